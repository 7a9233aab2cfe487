import { collectDefaultMetrics, Registry } from 'prom-client';

/** The prefix of every metric of ours, the same in every service (prom-client's default ones keep theirs). */
export const METRIC_PREFIX = 'saga_';

const registries = new Map<string, Registry>();

/**
 * The service's metrics registry, one per service name in this process and never prom-client's
 * global one: the embedded mode runs the four services in one process, each answering its own
 * `/metrics`. Every sample carries `service="<name>"`, and each registry has the process's
 * default metrics (CPU, memory, event loop, GC), so a dashboard reads every service alike.
 * Components find it by the service name they already have, so no constructor in between has
 * to carry it.
 */
export function serviceRegistry(service: string): Registry {
  let registry = registries.get(service);
  if (!registry) {
    registry = new Registry();
    registry.setDefaultLabels({ service });
    collectDefaultMetrics({ register: registry });
    registries.set(service, registry);
  }
  return registry;
}

/**
 * Builds a component's metric families once per registry, however many times the component is
 * constructed (prom-client refuses a second family of the same name in one registry).
 */
export function perRegistry<T>(build: (registry: Registry) => T): (registry: Registry) => T {
  const built = new WeakMap<Registry, T>();
  return (registry) => {
    let families = built.get(registry);
    if (!families) built.set(registry, (families = build(registry)));
    return families;
  };
}

/** Seconds since `startedMs` (a `performance.now()` reading): what every duration histogram observes. */
export function secondsSince(startedMs: number): number {
  return (performance.now() - startedMs) / 1000;
}

/** How long a scrape waits for an answer read at scrape time (a broker, a database) before leaving the sample out. */
export const SCRAPE_DEADLINE_MS = 3000;

/** Resolves `work`, or undefined once `ms` passed or it failed: a scrape never hangs on a dependency, and shows a gap instead. */
export async function withinScrape<T>(work: () => Promise<T>, ms = SCRAPE_DEADLINE_MS): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
    timer.unref();
  });
  try {
    return await Promise.race([work().catch(() => undefined), expired]);
  } finally {
    clearTimeout(timer);
  }
}
