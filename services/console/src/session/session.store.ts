import { randomBytes } from 'node:crypto';
import { tokensMatch } from '@app/platform';

export interface Session {
  id: string;
  csrfToken: string;
  /** Who signed in, as the audit log names them (the token is shared; the session is not). */
  actor: string;
  lastSeen: number;
}

export const SESSION_COOKIE = 'console_session';

/**
 * Sessions in memory, by random id: a restart signs everyone out, which is the safe failure.
 * The admin token never reaches the browser; the cookie only names a session.
 */
export class SessionStore {
  private readonly sessions = new Map<string, Session>();

  constructor(
    private readonly adminToken: string,
    private readonly idleMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** A session for the right token (compared in constant time), else undefined. */
  signIn(token: string, actor: string): Session | undefined {
    if (!tokensMatch(token, this.adminToken)) return undefined;
    this.expire();
    const session = { id: randomBytes(32).toString('base64url'), csrfToken: randomBytes(32).toString('base64url'), actor, lastSeen: this.now() };
    this.sessions.set(session.id, session);
    return session;
  }

  find(id: string | undefined): Session | undefined {
    if (!id) return undefined;
    const session = this.sessions.get(id);
    if (!session) return undefined;
    if (this.now() - session.lastSeen > this.idleMs) {
      this.sessions.delete(id);
      return undefined;
    }
    session.lastSeen = this.now();
    return session;
  }

  signOut(id: string): void {
    this.sessions.delete(id);
  }

  private expire(): void {
    const now = this.now();
    for (const [id, s] of this.sessions) if (now - s.lastSeen > this.idleMs) this.sessions.delete(id);
  }
}

export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export function sessionCookie(id: string): string {
  return `${SESSION_COOKIE}=${id}; HttpOnly; SameSite=Strict; Path=/`;
}

export function clearedSessionCookie(): string {
  return `${SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`;
}
