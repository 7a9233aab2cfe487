import { Inject, Injectable } from '@nestjs/common';
import { ProblemException } from '@app/platform';
import { CONSOLE_CONFIG, type ConsoleConfig, type Upstream } from './config';

export interface UpstreamReply<T = unknown> {
  status: number;
  body: T;
}

const TIMEOUT_MS = 10_000;

/** The four services' APIs, called with the admin token, which stays in this process. */
@Injectable()
export class UpstreamClient {
  constructor(@Inject(CONSOLE_CONFIG) private readonly config: ConsoleConfig) {}

  async call<T = unknown>(service: Upstream, method: string, path: string, body?: unknown): Promise<UpstreamReply<T>> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.config.adminToken}`, accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(`${this.config.upstreams[service]}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
    } catch (error) {
      throw new ProblemException(502, 'Bad Gateway', `${service} is unreachable: ${error instanceof Error ? error.message : String(error)}`.slice(0, 300), {
        service,
      });
    }
    const text = await res.text();
    let parsed: unknown = text;
    // By media type: an NDJSON blob of one line would parse as JSON too.
    if (/^application\/(problem\+)?json/.test(res.headers.get('content-type') ?? '')) {
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        // a malformed answer stays text
      }
    }
    return { status: res.status, body: parsed as T };
  }

  /** A call that must succeed: anything but 2xx passes the service's problem on, naming the service. */
  async ok<T = unknown>(service: Upstream, method: string, path: string, body?: unknown): Promise<T> {
    return expectOk(service, await this.call<T>(service, method, path, body));
  }
}

/** A 2xx reply's body; any other passes the service's problem on, naming the service. */
export function expectOk<T>(service: Upstream, reply: UpstreamReply<T>): T {
  if (reply.status >= 200 && reply.status < 300) return reply.body;
  const problem = (typeof reply.body === 'object' && reply.body ? reply.body : {}) as Record<string, unknown>;
  const status = reply.status >= 500 ? 502 : reply.status;
  throw new ProblemException(status, String(problem.title ?? 'Upstream error'), `${service}: ${String(problem.detail ?? reply.status)}`, {
    service,
    ...(Array.isArray(problem.errors) ? { errors: problem.errors as Array<{ field: string; message: string }> } : {}),
  });
}
