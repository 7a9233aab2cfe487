/**
 * `npm run bench -- [options]`: drives the order saga over HTTP and reports what it sustained,
 * from the databases' own timestamps, and whether anything was lost. See docs/performance.md.
 *
 *   --deployment distributed|embedded   system under test (default distributed: the four
 *                                       services as processes on PostgreSQL + RabbitMQ)
 *   --no-kafka                          distributed without Kafka/Analytics (in-memory stream)
 *   --rate 100[,200,...]                fixed offered rate(s), orders/s; several = a sweep
 *   --connections 32                    saturation: N connections, no rate limit
 *   --duration 30                       seconds of load per phase (--amount N bounds the count)
 *   --decline 0.1 --stockout 0.05       shares of orders that are declined / short of stock
 *   --drain-timeout 120                 seconds to wait for every order to finish after the load
 *   --out bench/results/<file>.json     where the JSON report goes
 *   --profile                           distributed: write each service's V8 CPU profile
 *                                       (--cpu-prof) to bench/profiles/; summarize with
 *                                       `npm run bench:profile -- bench/profiles/<dir>`
 *   --baseline <git ref>                build that ref in a worktree (.run/baseline/<sha>) and
 *                                       run it and the working tree back to back, same
 *                                       settings; print both and the ratios
 *   --variant 'label:K=V,K=V'           distributed, repeatable: after the working tree as it is,
 *                                       run it again per variant with more environment for the
 *                                       services, and print each variant's ratios to the plain
 *                                       run (what a setting costs, in one run on one machine).
 *                                       OTEL_EXPORTER_OTLP_ENDPOINT=sink sends the traces to an
 *                                       OTLP sink the bench runs (its own process; it counts
 *                                       spans); scrape=<s> scrapes every service's /metrics
 *                                       every <s> seconds meanwhile, as a Prometheus would
 *
 * Besides times, every phase reports what the system did per completed saga, counted by the
 * servers: SQL statements (pg_stat_statements) and commits (pg_stat_database) of the service
 * databases, messages published on the bus and delivered to its consumers (RabbitMQ's
 * management statistics), and records appended to the event stream (Kafka's watermarks).
 *
 * Exit code 1 when any order is lost, left open, or money or stock is not conserved: a run
 * that loses orders reports failure, not a number.
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, release, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { conservationProblems, cpuBetween, nonTerminal, outboxBacklog, percentiles, round, sagaFigures, snapshotCpu, type Seeded } from './measure';
import { startBenchSystem, type BenchSystem, type Counters } from './system';
import { sleep } from '@app/platform';

const { values: args } = parseArgs({
  options: {
    deployment: { type: 'string', default: 'distributed' },
    'no-kafka': { type: 'boolean', default: false },
    rate: { type: 'string' },
    connections: { type: 'string' },
    duration: { type: 'string', default: '30' },
    amount: { type: 'string' },
    decline: { type: 'string', default: '0' },
    stockout: { type: 'string', default: '0' },
    customers: { type: 'string', default: '200' },
    skus: { type: 'string', default: '50' },
    warmup: { type: 'string', default: '3' },
    'drain-timeout': { type: 'string', default: '120' },
    out: { type: 'string' },
    label: { type: 'string' },
    profile: { type: 'boolean', default: false },
    baseline: { type: 'string' },
    variant: { type: 'string', multiple: true },
  },
});

const number = (name: string, value: string | undefined, min = 0): number => {
  const n = Number(value);
  if (value === undefined || !Number.isFinite(n) || n < min) fail(`--${name} must be a number >= ${min}, not ${value}`);
  return n;
};

function fail(message: string): never {
  process.stderr.write(`bench: ${message}\n`);
  process.exit(2);
}

const deployment = args.deployment as 'embedded' | 'distributed';
if (!['embedded', 'distributed'].includes(deployment)) fail('--deployment must be embedded or distributed');
const rates = args.rate ? args.rate.split(',').map((r) => number('rate', r, 1)) : [];
const connections = args.connections ? number('connections', args.connections, 1) : rates.length ? undefined : 32;
const durationS = number('duration', args.duration, 1);
const amount = args.amount ? number('amount', args.amount, 1) : undefined;
const declineShare = number('decline', args.decline);
const stockoutShare = number('stockout', args.stockout);
if (declineShare + stockoutShare > 1) fail('--decline plus --stockout must not exceed 1');
const customerCount = number('customers', args.customers, 1);
const skuCount = number('skus', args.skus, 1);
const warmupS = number('warmup', args.warmup);
const drainTimeoutS = number('drain-timeout', args['drain-timeout'], 1);
const kafka = deployment === 'distributed' && !args['no-kafka'];

/** A --variant: the services' extra environment, and whether the bench scrapes their metrics meanwhile. */
interface Variant {
  label: string;
  env: NodeJS.ProcessEnv;
  scrapeS?: number;
}
const variants: Variant[] = (args.variant ?? []).map((spec) => {
  const m = /^([^:]+):(.*)$/.exec(spec);
  if (!m) fail(`--variant must be 'label:K=V,K=V', not ${spec}`);
  const variant: Variant = { label: m[1]!, env: {} };
  for (const pair of m[2]!.split(',').filter(Boolean)) {
    const [key, ...rest] = pair.split('=');
    const value = rest.join('=');
    if (key === 'scrape') variant.scrapeS = number('variant scrape', value, 0.1);
    else if (/^[A-Z][A-Z0-9_]*$/.test(key!)) variant.env[key!] = value;
    else fail(`--variant ${m[1]}: ${key} is neither an environment variable nor scrape`);
  }
  return variant;
});
if (variants.length && deployment !== 'distributed') fail('--variant is for the distributed mode');
if (variants.length && args.baseline) fail('--variant and --baseline: one at a time');
const run = randomBytes(3).toString('hex');

const BALANCE = 10_000_000; // major units per paying customer
const STOCK = 10_000_000; // units per SKU
const UNIT_PRICE = 1;

/** Tiny deterministic PRNG so that a run's order mix is reproducible. */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32;
}

async function admin(system: BenchSystem, service: keyof BenchSystem['urls'], method: string, path: string, body: unknown) {
  const res = await fetch(`${system.urls[service]}${path}`, {
    method,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${system.adminToken}` },
    body: JSON.stringify(body),
  });
  if (res.status >= 300) throw new Error(`${method} ${service}${path}: ${res.status} ${await res.text()}`);
}

/** A phase's own customers and SKUs, so that its orders and its conservation check stand apart. */
async function seed(system: BenchSystem, phase: string): Promise<{ seeded: Seeded; bodies: unknown[] }> {
  const customerPrefix = `bench-${run}-${phase}-`;
  const skuPrefix = `BENCH-${run}-${phase}-`;
  const seeded: Seeded = { customerPrefix, skuPrefix, balances: new Map(), stock: new Map() };
  const payers = Array.from({ length: customerCount }, (_, i) => `${customerPrefix}c${i}`);
  const broke = Array.from({ length: Math.max(1, Math.ceil(customerCount / 10)) }, (_, i) => `${customerPrefix}broke${i}`);
  const skus = Array.from({ length: skuCount }, (_, i) => `${skuPrefix}${i}`);
  const missing = `${skuPrefix}OUT`;
  const tasks: Array<() => Promise<void>> = [];
  for (const c of payers)
    tasks.push(() => admin(system, 'payment', 'PUT', `/api/accounts/${c}`, { balance: BALANCE }).then(() => void seeded.balances.set(c, BALANCE * 100)));
  for (const c of broke) tasks.push(() => admin(system, 'payment', 'PUT', `/api/accounts/${c}`, { balance: 0 }).then(() => void seeded.balances.set(c, 0)));
  for (const [sku, stock] of [...skus.map((s) => [s, STOCK] as const), [missing, 0] as const]) {
    tasks.push(async () => {
      await admin(system, 'order', 'PUT', `/api/products/${sku}`, { name: `Bench ${sku}`, unitPrice: UNIT_PRICE });
      await admin(system, 'inventory', 'PUT', `/api/stock/${sku}`, { available: stock });
      seeded.stock.set(sku, stock);
    });
  }
  for (let i = 0; i < tasks.length; i += 16) await Promise.all(tasks.slice(i, i + 16).map((t) => t()));

  const random = rng(0x5a6a + phase.length);
  const bodies = Array.from({ length: 5000 }, () => {
    const roll = random();
    const customerId = roll < declineShare ? broke[Math.floor(random() * broke.length)] : payers[Math.floor(random() * payers.length)];
    const short = roll >= declineShare && roll < declineShare + stockoutShare;
    const items = short
      ? [
          { sku: skus[Math.floor(random() * skus.length)], quantity: 1 },
          { sku: missing, quantity: 1 },
        ]
      : [{ sku: skus[Math.floor(random() * skus.length)], quantity: 1 + Math.floor(random() * 3) }];
    return { customerId, items };
  });
  return { seeded, bodies };
}

interface LoadResult {
  startedAt: number;
  finishedAt: number;
  sent: number;
  statuses: Record<string, number>;
  errors: number;
  timeouts: number;
  latenciesMs: number[];
  cpuS: number;
}

/** autocannon in a child process (bench/load-worker.mjs). */
function load(url: string, bodies: unknown[], job: { rate?: number; connections: number; durationS: number; amount?: number }): Promise<LoadResult> {
  const dir = join(tmpdir(), `bench-${run}`);
  mkdirSync(dir, { recursive: true });
  const jobFile = join(dir, `job-${Date.now()}.json`);
  writeFileSync(jobFile, JSON.stringify({ url, bodies, ...job }));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(__dirname, 'load-worker.mjs'), jobFile], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('exit', (code) => {
      rmSync(jobFile, { force: true });
      if (code !== 0) return reject(new Error(`load generator exited with ${code}`));
      resolve(JSON.parse(out));
    });
  });
}

/**
 * Connections for a fixed rate: enough that ~250 ms responses do not hold the rate down, and a
 * divisor of the rate, since autocannon paces each connection at rate/connections per second.
 */
function connectionsFor(rate: number): number {
  const want = Math.max(16, Math.ceil(rate / 4));
  for (let c = want; c <= rate; c++) if (rate % c === 0) return c;
  return want;
}

async function waitFor(what: () => Promise<boolean>, timeoutMs: number): Promise<number | undefined> {
  const start = Date.now();
  while (Date.now() - start < timeoutMs) {
    if (await what()) return (Date.now() - start) / 1000;
    await sleep(100);
  }
  return undefined;
}

async function backlogs(system: BenchSystem) {
  const out: Record<string, { bus: number; stream: number }> = {};
  for (const [service, db] of Object.entries(system.db)) out[service] = await outboxBacklog(db);
  return out;
}

/**
 * The servers publish their statistics with a delay: PostgreSQL flushes a backend's counters
 * when it has been idle for up to 10 s, RabbitMQ's management plugin every 5 s.
 */
const STATISTICS_DELAY_MS = 11_000;

async function settledCounters(system: BenchSystem): Promise<Counters> {
  await sleep(STATISTICS_DELAY_MS);
  return system.counters();
}

function workPerSaga(before: Counters, after: Counters, sagas: number) {
  const per = (k: keyof Counters) => (before[k] === null || after[k] === null || sagas === 0 ? null : round((after[k]! - before[k]!) / sagas, 2));
  return {
    statements: per('statements'),
    commits: per('commits'),
    busPublished: per('busPublished'),
    busDelivered: per('busDelivered'),
    streamRecords: per('streamRecords'),
  };
}

async function phase(system: BenchSystem, name: string, job: { rate?: number; connections: number }) {
  const { seeded, bodies } = await seed(system, name);
  const countersBefore = await settledCounters(system);
  const groups = system.processes();
  const cpuBefore = snapshotCpu(groups);
  process.stderr.write(
    `bench: ${name}: ${job.rate ? `${job.rate} orders/s offered` : `saturation, ${job.connections} connections`} for ${amount ? `${amount} orders` : `${durationS} s`}\n`,
  );
  const http = await load(`${system.urls.order}/api/orders`, bodies, { ...job, durationS, amount });
  const loadS = (http.finishedAt - http.startedAt) / 1000;
  const accepted = http.statuses['202'] ?? 0;
  const atLoadEnd = { openOrders: await nonTerminal(system.db.order, seeded.customerPrefix), outbox: await backlogs(system) };
  const drainS = await waitFor(async () => (await nonTerminal(system.db.order, seeded.customerPrefix)) === 0, drainTimeoutS * 1000);
  // Let the dispatchers finish (Kafka rows may trail the saga) before reading the counters.
  await waitFor(async () => Object.values(await backlogs(system)).every((b) => b.bus === 0 && b.stream === 0), 30_000);
  const cpu = cpuBetween(cpuBefore, system.processes());
  const saga = await sagaFigures(system.db.order, seeded.customerPrefix);
  const problems = await conservationProblems(system, seeded, { accepted, sent: http.sent });
  const countersAfter = await settledCounters(system);
  if (drainS === undefined) problems.unshift(`orders still open ${drainTimeoutS} s after the load`);
  const unexpected = Object.entries(http.statuses).filter(([s]) => s !== '202');
  if (unexpected.length) problems.push(`unexpected HTTP statuses: ${unexpected.map(([s, n]) => `${s} ×${n}`).join(', ')}`);
  if (http.errors > 0) problems.push(`${http.errors} requests failed at the connection (${http.timeouts} timeouts)`);
  const systemCpu = cpu.filter((c) => c.name !== 'harness').reduce((n, c) => n + c.cpuS, 0);
  return {
    phase: name,
    offered: job.rate ? { rate: job.rate } : { connections: job.connections },
    http: {
      sent: http.sent,
      accepted,
      statuses: http.statuses,
      errors: http.errors,
      loadS: round(loadS, 2),
      offeredPerS: round(http.sent / loadS),
      acceptedPerS: round(accepted / loadS),
      latencyMs: percentiles(http.latenciesMs),
    },
    saga,
    atLoadEnd,
    drainS: drainS === undefined ? null : round(drainS, 2),
    cpu: [...cpu, { name: 'load generator', cpuS: round(http.cpuS, 2) }],
    cpuMsPerSaga: saga.terminal ? round((systemCpu * 1000) / saga.terminal, 2) : null,
    perSaga: workPerSaga(countersBefore, countersAfter, saga.terminal),
    ok: problems.length === 0,
    problems,
  };
}

type Phase = Awaited<ReturnType<typeof phase>>;

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')).join('\n');
}

function print(label: string, results: Phase[]): void {
  const lat = (l?: Record<string, number>) => (l ? `${l.p50}/${l.p95}/${l.p99}/${l.max}` : '-');
  const n = (v: number | null | undefined) => (v === null || v === undefined ? '-' : String(v));
  process.stdout.write(`\n== ${label}\n`);
  const rows = [['phase', 'offered', 'sent/s', '202/s', 'POST ms p50/p95/p99/max', 'sagas/s', 'e2e ms p50/p95/p99/max', 'drain s', 'cpu ms/saga', 'ok']];
  for (const r of results) {
    rows.push([
      r.phase,
      'rate' in r.offered ? `${r.offered.rate}/s` : `${r.offered.connections} conn`,
      String(r.http.offeredPerS),
      String(r.http.acceptedPerS),
      lat(r.http.latencyMs),
      String(r.saga.sagasPerS),
      lat(r.saga.latencyMs),
      String(r.drainS ?? 'timeout'),
      String(r.cpuMsPerSaga ?? '-'),
      r.ok ? 'yes' : 'NO',
    ]);
  }
  process.stdout.write(`\n${table(rows)}\n`);
  const work = [['per saga', 'SQL statements', 'commits', 'bus published', 'bus delivered', 'stream records']];
  for (const r of results)
    work.push([r.phase, n(r.perSaga.statements), n(r.perSaga.commits), n(r.perSaga.busPublished), n(r.perSaga.busDelivered), n(r.perSaga.streamRecords)]);
  process.stdout.write(`\n${table(work)}\n`);
  for (const r of results) {
    // Rows leave the outbox once sent (ADR 0007), so what is left at the load's end is the backlog.
    const backlogRows = [['outbox (' + r.phase + ')', 'rows at load end bus/stream']];
    for (const [service, b] of Object.entries(r.atLoadEnd.outbox)) backlogRows.push([service, `${b.bus}/${b.stream}`]);
    process.stdout.write(`\n${table(backlogRows)}\n`);
    const cpuRows = [
      ['process (' + r.phase + ')', 'cpu s', 'peak rss MB'],
      ...r.cpu.map((c) => [c.name, String(c.cpuS), String((c as { peakRssMb?: number }).peakRssMb ?? '-')]),
    ];
    process.stdout.write(`\n${table(cpuRows)}\n`);
    process.stdout.write(
      `\n${r.phase}: ${r.saga.terminal}/${r.http.accepted} orders terminal (${Object.entries(r.saga.byStatus)
        .map(([s, k]) => `${s} ${k}`)
        .join(', ')}); open at load end ${r.atLoadEnd.openOrders}\n`,
    );
    for (const p of r.problems) process.stdout.write(`  PROBLEM: ${p}\n`);
  }
}

/** Working tree against baseline, phase by phase: > 1 means the working tree has more of it. */
function printRatios(baseline: Phase[], current: Phase[], label = 'working tree / baseline'): Array<Record<string, number | null | string>> {
  const ratio = (a: number | null | undefined, b: number | null | undefined) => (a && b ? round(b / a, 2) : null);
  const out = baseline.map((b, i) => {
    const c = current[i];
    return {
      phase: b.phase,
      sagasPerS: ratio(b.saga.sagasPerS, c?.saga.sagasPerS),
      acceptedPerS: ratio(b.http.acceptedPerS, c?.http.acceptedPerS),
      cpuMsPerSaga: ratio(b.cpuMsPerSaga, c?.cpuMsPerSaga),
      e2eP50: ratio(b.saga.latencyMs?.p50, c?.saga.latencyMs?.p50),
      e2eP99: ratio(b.saga.latencyMs?.p99, c?.saga.latencyMs?.p99),
      postP99: ratio(b.http.latencyMs?.p99, c?.http.latencyMs?.p99),
      statementsPerSaga: ratio(b.perSaga.statements, c?.perSaga.statements),
      commitsPerSaga: ratio(b.perSaga.commits, c?.perSaga.commits),
    };
  });
  const rows = [[label, 'sagas/s', '202/s', 'cpu ms/saga', 'e2e p50', 'e2e p99', 'POST p99', 'statements/saga', 'commits/saga']];
  const f = (v: number | null) => (v === null ? '-' : `${v}x`);
  for (const r of out)
    rows.push([
      r.phase,
      f(r.sagasPerS),
      f(r.acceptedPerS),
      f(r.cpuMsPerSaga),
      f(r.e2eP50),
      f(r.e2eP99),
      f(r.postP99),
      f(r.statementsPerSaga),
      f(r.commitsPerSaga),
    ]);
  process.stdout.write(`\n== ratios (${label})\n\n${table(rows)}\n`);
  return out;
}

/**
 * Builds a git ref in a worktree of its own (once per commit): its own `npm ci` and build, so
 * it runs exactly as it was committed, next to the working tree.
 */
function prepareBaseline(ref: string): { root: string; sha: string } {
  const git = (...a: string[]) => execFileSync('git', a, { encoding: 'utf8' }).trim();
  const sha = git('rev-parse', '--verify', `${ref}^{commit}`);
  const root = resolve('.run', 'baseline', sha);
  if (!existsSync(join(root, 'package.json'))) {
    process.stderr.write(`bench: checking out ${ref} (${sha.slice(0, 7)}) into ${root}\n`);
    rmSync(root, { recursive: true, force: true });
    git('worktree', 'prune');
    git('worktree', 'add', '--detach', root, sha);
  }
  const inRoot = (cmd: string, a: string[]) => execFileSync(cmd, a, { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  if (!existsSync(join(root, 'node_modules'))) {
    process.stderr.write(`bench: npm ci for the baseline\n`);
    inRoot('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error']);
  }
  if (!existsSync(join(root, 'dist', 'services', 'order', 'src', 'main.js'))) {
    process.stderr.write(`bench: building the baseline\n`);
    inRoot('npm', ['run', '--silent', 'build']);
  }
  return { root, sha };
}

/** One system from start to stop: warm-up, then each phase. */
async function runTarget(
  root: string | undefined,
  profileDir: string | undefined,
  variant?: Variant & { sink?: TraceSink },
): Promise<{ phases: Phase[]; pgVersion: string; spansPerSaga?: number | null }> {
  const env = Object.fromEntries(
    Object.entries(variant?.env ?? {}).map(([k, v]) => [k, k === 'OTEL_EXPORTER_OTLP_ENDPOINT' && v === 'sink' ? variant!.sink!.url : v]),
  );
  // Spans are exported within half a second, so the sink's count at the end is the run's.
  if (env.OTEL_EXPORTER_OTLP_ENDPOINT) env.OTEL_BSP_SCHEDULE_DELAY ??= '500';
  const system = await startBenchSystem({ deployment, kafka, profileDir, root, env });
  const phases: Phase[] = [];
  const scraper = variant?.scrapeS ? scrape(system, variant.scrapeS) : undefined;
  let spansAtStart = 0;
  try {
    const pgVersion = (await system.db.order.query('SELECT version() AS v')).rows[0].v as string;
    if (warmupS > 0) {
      // Warm-up (JIT, pools, queues): not reported.
      const { bodies } = await seed(system, 'warmup');
      await load(`${system.urls.order}/api/orders`, bodies, { rate: 50, connections: 4, durationS: warmupS });
    }
    if (variant?.sink) {
      await sleep(1500);
      spansAtStart = await variant.sink.count();
    }
    const jobs = rates.length ? rates.map((rate) => ({ rate, connections: connectionsFor(rate) })) : [{ connections: connections! }];
    for (const [i, job] of jobs.entries()) phases.push(await phase(system, jobs.length > 1 ? `p${i + 1}` : 'load', job));
    if (profileDir && system.topStatements) {
      // Where PostgreSQL's time went (all phases and the warm-up together): the V8 profiles say
      // nothing about the database's side of a round trip.
      const top = await system.topStatements(12);
      const rows = [
        ['statement (all phases)', 'db', 'calls', 'total ms', 'mean ms', 'rows'],
        ...top.map((t) => [t.query, t.database, t.calls, t.totalMs, t.meanMs, t.rows]),
      ];
      process.stdout.write(`\n${table(rows.map((r) => r.map(String)))}\n`);
    }
    if (variant?.sink) {
      await sleep(1500);
      const sagas = phases.reduce((n, p) => n + p.saga.terminal, 0);
      return { phases, pgVersion, spansPerSaga: sagas ? round(((await variant.sink.count()) - spansAtStart) / sagas) : null };
    }
    return { phases, pgVersion };
  } finally {
    scraper?.stop();
    await system.stop();
  }
}

/** Scrapes every service's /metrics every `intervalS` seconds, as a Prometheus would, until stopped. */
function scrape(system: BenchSystem, intervalS: number): { stop(): void } {
  const timer = setInterval(() => {
    for (const url of Object.values(system.urls))
      void fetch(`${url}/metrics`).then(
        (r) => r.arrayBuffer(),
        () => undefined,
      );
  }, intervalS * 1000);
  return { stop: () => clearInterval(timer) };
}

interface TraceSink {
  url: string;
  count(): Promise<number>;
  stop(): void;
}

/**
 * An OTLP/HTTP receiver in a process of its own (its CPU is not the system's): it takes every
 * export, counts the spans and drops them.
 */
async function startTraceSink(): Promise<TraceSink> {
  const code = `
    let spans = 0;
    require('node:http').createServer((req, res) => {
      if (req.method === 'GET') return res.end(String(spans));
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        try {
          for (const r of JSON.parse(Buffer.concat(chunks).toString()).resourceSpans ?? [])
            for (const s of r.scopeSpans ?? []) spans += (s.spans ?? []).length;
        } catch {}
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    }).listen(0, '127.0.0.1', function () { console.log(this.address().port); });
    process.stdin.on('end', () => process.exit(0)).resume();`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['pipe', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolvePort, reject) => {
    child.stdout!.once('data', (d: Buffer) => resolvePort(Number(String(d).trim())));
    child.once('exit', (code) => reject(new Error(`the trace sink exited (${code})`)));
  });
  const url = `http://127.0.0.1:${port}`;
  return { url, count: async () => Number(await (await fetch(url)).text()), stop: () => child.stdin!.end() };
}

async function main() {
  const startedAt = new Date();
  const profileDir = args.profile ? join('bench', 'profiles', startedAt.toISOString().replace(/[:.]/g, '-')) : undefined;
  if (profileDir && deployment !== 'distributed') fail('--profile is for the distributed mode; profile the embedded mode with node --cpu-prof');
  const baseline = args.baseline ? prepareBaseline(args.baseline) : undefined;
  const before = baseline ? await runTarget(baseline.root, profileDir && join(profileDir, 'baseline')) : undefined;
  const current = await runTarget(undefined, profileDir);
  const sink = variants.some((v) => v.env.OTEL_EXPORTER_OTLP_ENDPOINT === 'sink') ? await startTraceSink() : undefined;
  const varied: Array<Variant & { phases: Phase[]; spansPerSaga?: number | null }> = [];
  try {
    for (const v of variants) {
      const traced = v.env.OTEL_EXPORTER_OTLP_ENDPOINT === 'sink' ? { sink } : {};
      varied.push({ ...v, ...(await runTarget(undefined, profileDir && join(profileDir, v.label), { ...v, ...traced })) });
    }
  } finally {
    sink?.stop();
  }
  if (before) print(`baseline ${args.baseline} (${baseline!.sha.slice(0, 7)})`, before.phases);
  print(baseline ? 'working tree' : variants.length ? `${deployment} (plain)` : deployment, current.phases);
  for (const v of varied) {
    print(`variant ${v.label}`, v.phases);
    if (v.spansPerSaga !== undefined) process.stdout.write(`\nvariant ${v.label}: ${v.spansPerSaga ?? '-'} spans per saga exported\n`);
  }
  const ratios = before ? printRatios(before.phases, current.phases) : undefined;
  const variantRatios = varied.map((v) => ({ label: v.label, ratios: printRatios(current.phases, v.phases, `${v.label} / plain`) }));
  const results = current.phases;
  const report = {
    startedAt: startedAt.toISOString(),
    label: args.label ?? null,
    deployment,
    kafka,
    options: { rates, connections, durationS, amount, declineShare, stockoutShare, customers: customerCount, skus: skuCount },
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model,
      memoryGb: round(totalmem() / 2 ** 30),
      kernel: release(),
      node: process.version,
      postgres: current.pgVersion,
    },
    phases: results,
    ...(before ? { baseline: { ref: args.baseline, sha: baseline!.sha, phases: before.phases }, ratios } : {}),
    ...(varied.length
      ? {
          variants: varied.map((v, i) => ({
            label: v.label,
            env: v.env,
            scrapeS: v.scrapeS ?? null,
            spansPerSaga: v.spansPerSaga ?? null,
            phases: v.phases,
            ratios: variantRatios[i]!.ratios,
          })),
        }
      : {}),
    ok: results.every((r) => r.ok) && (before?.phases.every((r) => r.ok) ?? true) && varied.every((v) => v.phases.every((r) => r.ok)),
  };
  const out = args.out ?? join('bench', 'results', `${startedAt.toISOString().replace(/[:.]/g, '-')}-${deployment}${kafka ? '' : '-nokafka'}.json`);
  mkdirSync(join(out, '..'), { recursive: true });
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  if (profileDir) process.stdout.write(`\nCPU profiles: ${profileDir} (npm run bench:profile -- ${profileDir})`);
  process.stdout.write(`\nreport: ${out}\nbench: ${report.ok ? 'ok' : 'FAILED (see problems above)'}\n`);
  process.exit(report.ok ? 0 : 1);
}

main().catch((error) => {
  process.stderr.write(`bench: ${error instanceof Error ? error.stack : error}\n`);
  process.exit(1);
});
