import { access } from 'node:fs/promises';
import { join } from 'node:path';
import type { ReadinessProbe } from '@app/platform';
import type { ConsoleConfig, Upstream } from '../config';
import { webDirectory } from '../web/web.http';

/** A readiness probe answers within the orchestrator's timeout (3 s in k8s/base), however many services hang. */
const UPSTREAM_TIMEOUT_MS = 1500;

/**
 * The console's readiness (ADR 0012): it is ready when it can serve its page, and only then.
 * Each service's own readiness is reported beside it (`reported` in /health/ready) but never
 * makes the console unready: a console taken out of its Service while Payment is down would
 * hide the very page that shows the operator Payment is down, and its dead letters.
 */
export function consoleReadinessProbes(config: Pick<ConsoleConfig, 'webDir' | 'upstreams'>, fetchFn: typeof fetch = fetch): ReadinessProbe[] {
  return [
    {
      name: 'page',
      check: async () => {
        const dir = webDirectory(config);
        await access(join(dir, 'index.html')).catch(() => {
          throw new Error(`the page is not built (no index.html in ${dir}): run npm run build`);
        });
      },
    },
    ...(Object.keys(config.upstreams) as Upstream[]).map((service): ReadinessProbe => ({
      name: service,
      reportOnly: true,
      check: async () => {
        const res = await fetchFn(`${config.upstreams[service]}/health/ready`, { signal: AbortSignal.timeout(UPSTREAM_TIMEOUT_MS) }).catch((error: unknown) => {
          // fetch says only "fetch failed"; the reason (ECONNREFUSED, ENOTFOUND) is its cause.
          const e = error as { message?: string; cause?: { code?: string } } | undefined;
          throw new Error(`${service} is unreachable: ${e?.cause?.code ?? e?.message ?? String(error)}`);
        });
        await res.body?.cancel();
        if (res.status !== 200) throw new Error(`${service} is not ready (/health/ready answered ${res.status})`);
      },
    })),
  ];
}
