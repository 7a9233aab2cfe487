import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { Pool } from 'pg';
import { azuriteConnectionString } from '@app/platform';
import { launchDistributed, SERVICES, type ServiceName } from '../test/support/distributed';

/** What the harness needs of the system under test: its HTTP API, its databases, its processes. */
export interface BenchSystem {
  deployment: 'embedded' | 'distributed';
  urls: Record<ServiceName, string>;
  adminToken: string;
  /** Read-only access to each service's own database (the same SQL on PostgreSQL and PGlite). */
  db: Record<'order' | 'payment' | 'inventory', Queryable>;
  /** The processes whose CPU and memory are reported, by name. */
  processes(): ProcessGroup[];
  /**
   * Cumulative counts of the work the system did, read from the servers themselves (or the
   * embedded mode's in-process doubles): what a phase did is the difference of two readings.
   */
  counters(): Promise<Counters>;
  /** The statements that cost PostgreSQL the most time so far (distributed mode; for --profile). */
  topStatements?(limit: number): Promise<StatementCost[]>;
  stop(): Promise<void>;
}

export interface StatementCost {
  database: string;
  calls: number;
  totalMs: number;
  meanMs: number;
  rows: number;
  query: string;
}

export interface Counters {
  /** SQL statements the services ran (BEGIN and COMMIT included), all databases together. */
  statements: number | null;
  /** Transactions committed (explicit, or a statement's own), all service databases together. */
  commits: number | null;
  /** Messages published on the saga bus, and deliveries to its consumers. */
  busPublished: number | null;
  busDelivered: number | null;
  /** Records appended to the event stream (the three event topics). */
  streamRecords: number | null;
}

export interface Queryable {
  query(sql: string, params?: unknown[]): Promise<{ rows: any[] }>;
}

export interface ProcessGroup {
  name: string;
  pids: number[];
}

export interface SystemOptions {
  deployment: 'embedded' | 'distributed';
  /** Distributed: domain events to Kafka and the Analytics archive (true) or a private in-memory log (false). */
  kafka: boolean;
  /** Distributed: write each service's V8 CPU profile here when it stops. */
  profileDir?: string;
  /** The checkout whose build runs (default: this one; the baseline is a worktree). */
  root?: string;
  /** Distributed: more environment for the services (a --variant's). */
  env?: NodeJS.ProcessEnv;
}

const here = join(__dirname, '..');

/** Settings for a benchmark run: quiet logs, and the batch sizes of production. */
const benchEnv: NodeJS.ProcessEnv = {
  SEED_DEMO_DATA: 'false',
  LOG_LEVEL: 'warn',
  ORDER_PORT: '0',
  PAYMENT_PORT: '0',
  INVENTORY_PORT: '0',
  ANALYTICS_PORT: '0',
  CONSOLE_PORT: '0',
};

export async function startBenchSystem(options: SystemOptions): Promise<BenchSystem> {
  return options.deployment === 'embedded' ? startEmbeddedSystem(options.root ?? here) : startDistributed(options);
}

/**
 * The embedded mode, booted in this process from the build (`dist/`), with its in-memory PGlite.
 * The load generator runs in a child process, so this process's CPU is the system's.
 */
async function startEmbeddedSystem(root: string): Promise<BenchSystem> {
  // The services' loggers read the environment; the harness's table is the output here.
  process.env.LOG_LEVEL ??= 'warn';
  // From the build: the services need decorator metadata, which only the TypeScript build emits
  // (tsx does not), so the harness loads the compiled files, not the sources.
  /* eslint-disable @typescript-eslint/no-require-imports -- compiled CommonJS from dist/, see above */
  const { startEmbedded } = require(join(root, 'dist', 'services', 'embedded', 'src', 'embedded.js'));
  const { pglitePoolDriver, pgliteCounters } = require(join(root, 'dist', 'libs', 'persistence', 'src', 'pglite-pool.js'));
  /* eslint-enable @typescript-eslint/no-require-imports */
  const system = await startEmbedded({ ...benchEnv, PGLITE_DATA_DIR: 'memory', AZURITE_BLOB_PORT: '0' });
  // A pool per schema that queues behind the services' transactions on the one PGlite session.
  const pool = (schema: string): Queryable => {
    const { Pool: PglitePool } = pglitePoolDriver({ pglite: system.pglite, schema });
    return new PglitePool({}) as Queryable;
  };
  return {
    deployment: 'embedded',
    urls: system.urls,
    adminToken: system.adminToken,
    db: { order: pool('order'), payment: pool('payment'), inventory: pool('inventory') },
    processes: () => [{ name: 'embedded (four services, PGlite, bus, Azurite, harness)', pids: [process.pid] }],
    counters: async () => {
      const records = await Promise.all(
        ['order-events', 'payment-events', 'inventory-events'].map(async (t) =>
          (await system.stream.watermarks(t)).reduce((n: number, w: { high: number }) => n + w.high, 0),
        ),
      );
      return {
        // An older build (the baseline) may not count; its figures are then unknown, not zero.
        statements: pgliteCounters?.statements ?? null,
        commits: pgliteCounters?.commits ?? null,
        busPublished: system.transport.stats?.published ?? null,
        busDelivered: system.transport.stats?.queued ?? null,
        streamRecords: records.reduce((a, b) => a + b, 0),
      };
    },
    stop: () => system.stop(),
  };
}

/** The four built services as processes on PostgreSQL and RabbitMQ (and Kafka + Azurite), fresh databases and namespace. */
async function startDistributed(options: SystemOptions): Promise<BenchSystem> {
  const env: NodeJS.ProcessEnv = { ...benchEnv, LOG_LEVEL: 'info', STREAM: options.kafka ? 'kafka' : 'memory', ...options.env };
  // The Azurite that `npm run infra:up` started, so that its CPU shows as its own process.
  if (options.kafka)
    env.AZURE_STORAGE_CONNECTION_STRING =
      process.env.AZURE_STORAGE_CONNECTION_STRING ?? azuriteConnectionString(process.env.AZURITE_BLOB_URL ?? 'http://127.0.0.1:10000');
  const system = await launchDistributed(env, {
    root: options.root,
    nodeArgs: options.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${resolve(options.profileDir)}`] : [],
  });
  // The harness reads as a role of its own, so that its statements are not counted as the
  // system's (pg_stat_statements keeps them apart by role); its transactions are counted here
  // and taken off pg_stat_database's, which keeps no role.
  const asHarness = (url: string) => {
    const u = new URL(url);
    u.username = HARNESS_ROLE;
    return u.toString();
  };
  const admin = new Pool({ connectionString: system.databaseUrls.order.replace(/\/[^/]*$/, '/postgres'), max: 1 });
  await admin.query(`DO $$ BEGIN CREATE ROLE ${HARNESS_ROLE} LOGIN SUPERUSER; EXCEPTION WHEN duplicate_object THEN NULL; END $$`);
  await admin.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements').catch(() => undefined);
  const harnessTransactions = { n: 0 };
  const counted = (pool: Pool): Queryable => ({
    query: (sql, params) => {
      harnessTransactions.n++;
      return pool.query(sql, params);
    },
  });
  const raw = Object.fromEntries(
    (['order', 'payment', 'inventory'] as const).map((s) => [s, new Pool({ connectionString: asHarness(system.databaseUrls[s]), max: 2 })]),
  ) as Record<'order' | 'payment' | 'inventory', Pool>;
  const pools = Object.fromEntries(Object.entries(raw).map(([s, p]) => [s, counted(p)])) as Record<'order' | 'payment' | 'inventory', Queryable>;
  const stats = new Pool({ connectionString: asHarness(system.databaseUrls.order.replace(/\/[^/]*$/, '/postgres')), max: 1 });
  const databaseOf = (url: string) => decodeURIComponent(new URL(url).pathname.slice(1));
  const databases = Object.values(system.databaseUrls).map(databaseOf);
  const serviceOf: Record<string, string> = Object.fromEntries(Object.entries(system.databaseUrls).map(([service, url]) => [databaseOf(url), service]));
  return {
    deployment: 'distributed',
    urls: system.urls,
    adminToken: system.adminToken,
    db: pools,
    processes: () => {
      const pids = system.pids();
      return [
        ...SERVICES.filter((s) => pids[s]).map((s) => ({ name: s, pids: [pids[s]!] })),
        { name: 'postgresql', pids: findProcesses((p) => p.comm === 'postgres') },
        { name: 'rabbitmq', pids: findProcesses((p) => p.comm.startsWith('beam')) },
        ...(options.kafka
          ? [
              { name: 'kafka', pids: findProcesses((p) => p.comm === 'java' && p.cmdline.includes('kafka.Kafka')) },
              { name: 'azurite', pids: findProcesses((p) => p.cmdline.includes('azurite/dist')) },
            ]
          : []),
        { name: 'harness', pids: [process.pid] },
      ];
    },
    counters: async () => {
      const statements = await stats
        .query(
          `SELECT coalesce(sum(s.calls), 0)::float8 AS n FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
            WHERE d.datname = ANY($1) AND s.userid <> (SELECT oid FROM pg_roles WHERE rolname = $2)`,
          [databases, HARNESS_ROLE],
        )
        .then(
          (r) => Number(r.rows[0].n),
          () => null,
        );
      const commits = await stats
        .query('SELECT coalesce(sum(xact_commit), 0)::float8 AS n FROM pg_stat_database WHERE datname = ANY($1)', [databases])
        .then((r) => Number(r.rows[0].n) - harnessTransactions.n);
      const bus = await rabbitCounters(system.namespace);
      const streamRecords = options.kafka ? await kafkaRecords(system.namespace) : null;
      return { statements, commits, ...bus, streamRecords };
    },
    topStatements: async (limit) => {
      const { rows } = await stats.query(
        `SELECT d.datname AS database, s.calls::float8 AS calls, s.total_exec_time AS total, s.mean_exec_time AS mean, s.rows::float8 AS rows,
                regexp_replace(s.query, '\\s+', ' ', 'g') AS query
           FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
          WHERE d.datname = ANY($1) AND s.userid <> (SELECT oid FROM pg_roles WHERE rolname = $2)
          ORDER BY s.total_exec_time DESC LIMIT $3`,
        [databases, HARNESS_ROLE, limit],
      );
      return rows.map((r) => ({
        database: serviceOf[r.database] ?? r.database,
        calls: r.calls,
        totalMs: Math.round(r.total),
        meanMs: Math.round(r.mean * 1000) / 1000,
        rows: r.rows,
        query: r.query.slice(0, 110),
      }));
    },
    stop: async () => {
      await Promise.all([...Object.values(raw), stats, admin].map((p) => p.end()));
      await system.stop();
    },
  };
}

const HARNESS_ROLE = 'saga_bench';

/** Publishes into the namespace's exchange and deliveries from its queues (RabbitMQ's management statistics). */
async function rabbitCounters(namespace: string): Promise<{ busPublished: number | null; busDelivered: number | null }> {
  const base = new URL(process.env.RABBITMQ_MANAGEMENT_URL ?? 'http://guest:guest@127.0.0.1:15672');
  const auth = `Basic ${Buffer.from(`${decodeURIComponent(base.username)}:${decodeURIComponent(base.password)}`).toString('base64')}`;
  const get = async (path: string) => {
    const r = await fetch(new URL(path, `${base.protocol}//${base.host}`), { headers: { authorization: auth } });
    if (!r.ok) throw new Error(`${path}: ${r.status}`);
    return r.json();
  };
  try {
    const exchange = (await get(`/api/exchanges/%2F/${encodeURIComponent(`${namespace}saga.events`)}`)) as { message_stats?: { publish_in?: number } };
    const queues = (await get('/api/queues?columns=name,message_stats')) as Array<{ name: string; message_stats?: { deliver_get?: number } }>;
    return {
      busPublished: exchange.message_stats?.publish_in ?? 0,
      busDelivered: queues.filter((q) => q.name.startsWith(namespace)).reduce((n, q) => n + (q.message_stats?.deliver_get ?? 0), 0),
    };
  } catch {
    return { busPublished: null, busDelivered: null };
  }
}

/** Records in the namespace's three event topics (their high watermarks). */
async function kafkaRecords(namespace: string): Promise<number | null> {
  const admin = new Kafka({
    clientId: 'bench-counters',
    brokers: (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(','),
    logLevel: logLevel.NOTHING,
  }).admin();
  try {
    await admin.connect();
    let n = 0;
    for (const t of ['order-events', 'payment-events', 'inventory-events']) {
      for (const p of await admin.fetchTopicOffsets(`${namespace}${t}`)) n += Number(p.high);
    }
    return n;
  } catch {
    return null;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

function findProcesses(match: (p: { comm: string; cmdline: string }) => boolean): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const comm = readFileSync(`/proc/${entry}/comm`, 'utf8').trim();
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (match({ comm, cmdline })) out.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}
