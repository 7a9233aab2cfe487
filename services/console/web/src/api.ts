/** The console backend's API: same origin, the session cookie, the CSRF token on every change. */
let csrfToken: string | null = null;

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

let onSignedOut: () => void = () => {};
export function whenSignedOut(handler: () => void): void {
  onSignedOut = handler;
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['x-csrf-token'] = csrfToken;
  const res = await fetch(path, { method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  const parsed = text ? (JSON.parse(text) as unknown) : undefined;
  if (!res.ok) {
    const problem = (parsed ?? {}) as { detail?: string; title?: string };
    if (res.status === 401 && path !== '/api/session') {
      csrfToken = null;
      onSignedOut();
    }
    throw new ApiError(res.status, problem.detail ?? problem.title ?? `HTTP ${res.status}`);
  }
  return parsed as T;
}

export interface SessionInfo {
  actor: string;
  csrfToken: string;
}

export async function signIn(token: string, name: string): Promise<SessionInfo> {
  const s = await api<SessionInfo>('POST', '/api/session', { token, ...(name ? { name } : {}) });
  csrfToken = s.csrfToken;
  return s;
}

export async function currentSession(): Promise<SessionInfo | null> {
  try {
    const s = await api<SessionInfo>('GET', '/api/session');
    csrfToken = s.csrfToken;
    return s;
  } catch {
    return null;
  }
}

export async function signOut(): Promise<void> {
  await api('DELETE', '/api/session');
  csrfToken = null;
}

export const query = (params: Record<string, string | number | undefined>) => {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
};
