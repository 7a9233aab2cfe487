/**
 * `npm run chaos -- [options]`: the chaos soak from the command line (see soak.ts).
 *
 *   --rate 50 --duration 600 --seed 1      orders/s offered, seconds, the schedule's seed
 *   --decline 0.1 --stockout 0.05 --gateway-errors 0.02   the order mix
 *   --faults kill,kafka-restart,...        which faults (default: all of them)
 *   --gap 5,15                             seconds between two faults (uniform)
 *   --each-once                            every chosen fault once, in a seeded order (else random picks until the end)
 *   --out <file.json>                      the report (default .run/chaos/<time>.json)
 *
 * Needs `npm run infra:up` (PostgreSQL, RabbitMQ, Kafka, Azurite) and a build (`npm run chaos`
 * builds). It restarts RabbitMQ, Kafka and PostgreSQL on this machine: run nothing else meanwhile.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { FAULT_KINDS, type FaultKind } from './faults';
import { defaultSoakOptions, printReport, soak } from './soak';

const { values: args } = parseArgs({
  options: {
    rate: { type: 'string' },
    duration: { type: 'string' },
    seed: { type: 'string' },
    decline: { type: 'string' },
    stockout: { type: 'string' },
    'gateway-errors': { type: 'string' },
    faults: { type: 'string' },
    gap: { type: 'string' },
    'each-once': { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});

function fail(message: string): never {
  process.stderr.write(`chaos: ${message}\n`);
  process.exit(2);
}

const num = (name: string, value: string | undefined, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number => {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < min || n > max) fail(`--${name} must be a number in [${min}, ${max}], not ${value}`);
  return n;
};

const faults = (args.faults?.split(',') ?? [...FAULT_KINDS]) as FaultKind[];
for (const f of faults) if (!FAULT_KINDS.includes(f)) fail(`unknown fault ${f}; known: ${FAULT_KINDS.join(', ')}`);
const gap = (args.gap ?? defaultSoakOptions.faultGapS.join(',')).split(',').map((g) => num('gap', g, 0, 0, 3600));
if (gap.length !== 2 || gap[0] > gap[1]) fail('--gap takes min,max seconds');

// Bounded: at most 500 orders/s and two hours.
const options = {
  ...defaultSoakOptions,
  rate: num('rate', args.rate, defaultSoakOptions.rate, 1, 500),
  durationS: num('duration', args.duration, defaultSoakOptions.durationS, 10, 7200),
  seed: num('seed', args.seed, defaultSoakOptions.seed, 0, 2 ** 32 - 1),
  declineShare: num('decline', args.decline, defaultSoakOptions.declineShare, 0, 1),
  stockoutShare: num('stockout', args.stockout, defaultSoakOptions.stockoutShare, 0, 1),
  gatewayErrorShare: num('gateway-errors', args['gateway-errors'], defaultSoakOptions.gatewayErrorShare, 0, 1),
  faults,
  faultGapS: [gap[0], gap[1]] as const,
  schedule: args['each-once'] ? ('each-once' as const) : ('random' as const),
  log: (line: string) => process.stdout.write(`${line}\n`),
};
if (options.declineShare + options.stockoutShare + options.gatewayErrorShare > 1) fail('the shares of the mix must not exceed 1');

soak(options).then(
  (report) => {
    printReport(report, (l) => process.stdout.write(`${l}\n`));
    const out = args.out ?? join('.run', 'chaos', `${report.startedAt.replace(/[:.]/g, '-')}.json`);
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
    process.stdout.write(`report: ${out}\n`);
    process.exit(report.ok ? 0 : 1);
  },
  (error: unknown) => {
    process.stderr.write(`chaos: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
