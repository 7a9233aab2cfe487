import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
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
  stop(): Promise<void>;
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
}

const root = join(__dirname, '..');

/** Settings for a benchmark run: quiet logs, and the batch sizes of production. */
const benchEnv: NodeJS.ProcessEnv = {
  SEED_DEMO_DATA: 'false',
  LOG_LEVEL: 'warn',
  ORDER_PORT: '0',
  PAYMENT_PORT: '0',
  INVENTORY_PORT: '0',
  ANALYTICS_PORT: '0',
};

export async function startBenchSystem(options: SystemOptions): Promise<BenchSystem> {
  return options.deployment === 'embedded' ? startEmbeddedSystem() : startDistributed(options);
}

/**
 * The embedded mode, booted in this process from the build (`dist/`), with its in-memory PGlite.
 * The load generator runs in a child process, so this process's CPU is the system's.
 */
async function startEmbeddedSystem(): Promise<BenchSystem> {
  // The services' loggers read the environment; the harness's table is the output here.
  process.env.LOG_LEVEL ??= 'warn';
  // From the build: the services need decorator metadata, which only the TypeScript build emits
  // (tsx does not), so the harness loads the compiled files, not the sources.
  /* eslint-disable @typescript-eslint/no-require-imports -- compiled CommonJS from dist/, see above */
  const { startEmbedded } = require(join(root, 'dist', 'services', 'embedded', 'src', 'embedded.js'));
  const { pglitePoolDriver } = require(join(root, 'dist', 'libs', 'persistence', 'src', 'pglite-pool.js'));
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
    stop: () => system.stop(),
  };
}

/** The four built services as processes on PostgreSQL and RabbitMQ (and Kafka + Azurite), fresh databases and namespace. */
async function startDistributed(options: SystemOptions): Promise<BenchSystem> {
  const env: NodeJS.ProcessEnv = { ...benchEnv, LOG_LEVEL: 'info', STREAM: options.kafka ? 'kafka' : 'memory' };
  // The Azurite that `npm run infra:up` started, so that its CPU shows as its own process.
  if (options.kafka)
    env.AZURE_STORAGE_CONNECTION_STRING =
      process.env.AZURE_STORAGE_CONNECTION_STRING ?? azuriteConnectionString(process.env.AZURITE_BLOB_URL ?? 'http://127.0.0.1:10000');
  const system = await launchDistributed(env, { nodeArgs: options.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${resolve(options.profileDir)}`] : [] });
  const pools = Object.fromEntries(
    (['order', 'payment', 'inventory'] as const).map((s) => [s, new Pool({ connectionString: system.databaseUrls[s], max: 2 })]),
  ) as Record<'order' | 'payment' | 'inventory', Pool>;
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
    stop: async () => {
      await Promise.all(Object.values(pools).map((p) => p.end()));
      await system.stop();
    },
  };
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
