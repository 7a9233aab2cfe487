import { sleep } from '@app/platform';
import { Api } from '../support/api';
import { SERVICES, type ServiceName } from '../support/distributed';
import { startDistributedSystem } from '../support/system';
import { checkEverything, type CheckResult } from './checks';
import { FAULT_KINDS, Faults, type FaultKind, type InjectedFault } from './faults';
import { Instances } from './instances';
import { rng, type Random } from './random';
import { World } from './world';

/**
 * The chaos soak: sustained load on the distributed mode with two instances of every service,
 * while a seeded scheduler injects faults one after another; then it waits for quiet and checks
 * that nothing was lost, doubled or parked without a cause. Bounded in time and requests,
 * loopback only. `npm run chaos` (test/chaos/main.ts) runs it from the command line; the
 * distributed e2e suite runs a short one with a fixed seed (test/distributed/chaos.e2e.spec.ts).
 */
export interface SoakOptions {
  /** Orders offered per second (open loop), for `durationS`. */
  rate: number;
  durationS: number;
  seed: number;
  /** Shares of the orders: customers who cannot pay, orders short of stock, a gateway that fails. */
  declineShare: number;
  stockoutShare: number;
  gatewayErrorShare: number;
  /** Which faults the scheduler picks from, and the pause between two (seconds, uniform). */
  faults: readonly FaultKind[];
  faultGapS: readonly [number, number];
  /** `random`: picks until the load ends; `each-once`: every fault of the list once, in a seeded order. */
  schedule: 'random' | 'each-once';
  /** How long to wait for quiet after the load. */
  settleTimeoutS: number;
  log(line: string): void;
}

export const defaultSoakOptions: Omit<SoakOptions, 'log'> = {
  rate: 50,
  durationS: 600,
  seed: 1,
  declineShare: 0.1,
  stockoutShare: 0.05,
  gatewayErrorShare: 0.02,
  faults: FAULT_KINDS,
  faultGapS: [5, 15],
  schedule: 'random',
  settleTimeoutS: 300,
};

export interface SoakReport {
  options: Omit<SoakOptions, 'log'>;
  startedAt: string;
  durationS: number;
  orders: { offered: number; accepted: number; unanswered: number; byOutcome: Record<string, number> };
  faults: InjectedFault[];
  checks: CheckResult[];
  ok: boolean;
}

export async function soak(options: SoakOptions): Promise<SoakReport> {
  const started = Date.now();
  // Two streams of the seed: the orders' and the faults', so that one does not shift the other.
  const orderRandom = rng(options.seed);
  const faultRandom = rng((options.seed ^ 0x9e3779b9) >>> 0);
  const log = (line: string) => options.log(`${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s  ${line}`);
  log(`chaos: seed ${options.seed}, ${options.rate} orders/s for ${options.durationS} s, faults: ${options.faults.join(', ')}`);
  const sut = await startDistributedSystem({
    // Dead letters from the failing gateway come after two quick delayed retries.
    RETRY_IMMEDIATE: '1',
    RETRY_DELAYED: '2',
  });
  try {
    const instances = await Instances.start(sut);
    log(`system up: ${SERVICES.map((s) => `${s} ×${instances.of(s).length}`).join(', ')}`);
    const world = await World.seed(new Api(sut), options);
    const faults = new Faults(sut, instances, faultRandom, log);
    const load = runLoad(instances, world, orderRandom, options, log);
    const scheduler = runFaults(faults, faultRandom, options, () => load.running);
    await load.done;
    await scheduler;
    log(`load over: ${load.accepted.size} accepted of ${load.offered}; waiting for quiet`);
    await faults.healAll();
    const checks = await checkEverything(sut, instances, world, faults, load.accepted, options, log);
    const byOutcome: Record<string, number> = {};
    for (const c of checks) if (c.outcomes) Object.assign(byOutcome, c.outcomes);
    const { log: _log, ...settings } = options;
    return {
      options: settings,
      startedAt: new Date(started).toISOString(),
      durationS: Math.round((Date.now() - started) / 1000),
      orders: { offered: load.offered, accepted: load.accepted.size, unanswered: load.unanswered, byOutcome },
      faults: faults.injected,
      checks,
      ok: checks.every((c) => c.ok),
    };
  } finally {
    await sut.stop();
  }
}

interface Load {
  running: boolean;
  offered: number;
  unanswered: number;
  accepted: Set<string>;
  done: Promise<void>;
}

/**
 * Open-loop load: one order every 1/rate s, whatever the answers. A request that finds its
 * Order instance down (a fault) is sent again with the same Idempotency-Key to another one, a
 * few times, as a client behind a load balancer would; an order is counted as accepted only on
 * a 202.
 */
function runLoad(instances: Instances, world: World, random: Random, options: SoakOptions, log: (l: string) => void): Load {
  const load: Load = { running: true, offered: 0, unanswered: 0, accepted: new Set(), done: Promise.resolve() };
  const total = Math.round(options.rate * options.durationS);
  const inFlight = new Set<Promise<void>>();
  const send = async (body: unknown, key: string) => {
    for (let attempt = 0; attempt < 8; attempt++) {
      const url = instances.pickUrl('order', random);
      try {
        const r = await fetch(`${url}/api/orders`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'idempotency-key': key },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(10_000),
        });
        const text = await r.text();
        if (r.status === 202) {
          load.accepted.add((JSON.parse(text) as { orderId: string }).orderId);
          return;
        }
        if (r.status < 500) throw new Error(`order refused: ${r.status} ${text}`);
      } catch (error) {
        if ((error as Error).message.startsWith('order refused')) throw error;
      }
      await sleep(250 * (attempt + 1));
    }
    load.unanswered++;
  };
  load.done = (async () => {
    const start = Date.now();
    let lastReport = start;
    for (let i = 0; i < total; i++) {
      const due = start + (i * 1000) / options.rate;
      if (due > Date.now()) await sleep(due - Date.now());
      load.offered++;
      const p = send(world.nextOrder(random), `chaos-${options.seed}-${i}`).catch((error: unknown) => log(`load: ${(error as Error).message}`));
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
      if (Date.now() - lastReport > 30_000) {
        lastReport = Date.now();
        log(`load: ${load.offered} offered, ${load.accepted.size} accepted, ${inFlight.size} in flight`);
      }
    }
    await Promise.all(inFlight);
    load.running = false;
  })();
  return load;
}

/** One fault after another while the load runs, each healed before the next (a random pause between). */
async function runFaults(faults: Faults, random: Random, options: SoakOptions, loadRunning: () => boolean): Promise<void> {
  if (options.faults.length === 0) return;
  const [min, max] = options.faultGapS;
  // The first fault waits for the system to be under load.
  await sleep(Math.min(10_000, (options.durationS * 1000) / 10));
  const queue = options.schedule === 'each-once' ? shuffle([...options.faults], random) : [];
  // Random picks go on while the load does; every fault of an each-once list is injected, load or not.
  while (options.schedule === 'each-once' ? queue.length > 0 : loadRunning()) {
    const kind = options.schedule === 'random' ? options.faults[Math.floor(random() * options.faults.length)] : queue.shift()!;
    await faults.inject(kind);
    const gap = (min + random() * (max - min)) * 1000;
    const until = Date.now() + gap;
    while (loadRunning() && Date.now() < until) await sleep(200);
  }
}

function shuffle<T>(items: T[], random: Random): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

export function printReport(report: SoakReport, write: (line: string) => void): void {
  const counts = new Map<string, number>();
  for (const f of report.faults) counts.set(f.kind, (counts.get(f.kind) ?? 0) + 1);
  write('');
  write(`faults injected (${report.faults.length}): ${[...counts].map(([k, n]) => `${k} ×${n}`).join(', ') || 'none'}`);
  write(
    `orders: ${report.orders.offered} offered, ${report.orders.accepted} accepted, ${report.orders.unanswered} unanswered; ${Object.entries(
      report.orders.byOutcome,
    )
      .map(([k, n]) => `${k} ${n}`)
      .join(', ')}`,
  );
  for (const c of report.checks) write(`${c.ok ? 'ok  ' : 'FAIL'}  ${c.name}: ${c.detail}`);
  write(`chaos: ${report.ok ? 'ok' : 'FAILED'} (${report.durationS} s)`);
}

export type { ServiceName };
