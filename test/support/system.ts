import { randomBytes } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { Pool } from 'pg';
import type { ProducedRecord } from '@app/messaging';
import { pglitePoolDriver } from '@app/persistence';
import type { SmtpSink } from '@app/platform';
import { startEmbedded } from '../../services/embedded/src/embedded';
import { launchDistributed, type DistributedSystem as LaunchedSystem } from './distributed';
import { Fingerprint, type Query } from './fingerprint';

export type { ServiceName } from './distributed';

/** The distributed system of the e2e suite: the launcher's handle plus the fingerprint. */
export type DistributedSystem = LaunchedSystem & { fingerprint: Fingerprint; produceToStream: SystemUnderTest['produceToStream'] };

export interface SystemUnderTest {
  /** The console only in the embedded mode (the distributed launcher does not start it). */
  urls: { order: string; payment: string; inventory: string; analytics: string; notification: string; console?: string };
  adminToken: string;
  /** Where the analytics archive is (Azurite), for reading the blobs directly. */
  blobConnectionString: string;
  archiveContainer: string;
  /** The SMTP server the customers' emails reach: a sink that keeps what it received. */
  smtp?: SmtpSink;
  /** Row counts of every service's tables, read through each service's own database. */
  fingerprint: Fingerprint;
  /** Appends records to a topic of the system's event stream (the in-memory log, or its namespace's topic on Kafka), as a broken producer would. */
  produceToStream(topic: string, records: ProducedRecord[]): Promise<void>;
  stop(): Promise<void>;
}

/** What every test system starts with unless a test says otherwise: no demo data, fast retries. */
const testDefaults: NodeJS.ProcessEnv = {
  SEED_DEMO_DATA: 'false',
  ORDER_PORT: '0',
  PAYMENT_PORT: '0',
  INVENTORY_PORT: '0',
  ANALYTICS_PORT: '0',
  NOTIFICATION_PORT: '0',
  CONSOLE_PORT: '0',
  RETRY_IMMEDIATE: '1',
  RETRY_DELAYED: '2',
  RETRY_BASE_DELAY_MS: '50',
  RETRY_MAX_DELAY_MS: '500',
  // In-process Azurite on a free port (embedded mode); archive batches flush quickly.
  AZURITE_BLOB_PORT: '0',
  ARCHIVE_BATCH_MAX_MS: '300',
};

/**
 * The system the e2e suite drives over HTTP. By default the embedded mode, booted in this
 * process on free ports with an in-memory PGlite and no demo data (tests make their own).
 * With E2E_MODE=distributed, the built services as four processes on PostgreSQL and RabbitMQ
 * (see startDistributedSystem).
 */
export async function startSystem(env: NodeJS.ProcessEnv = {}): Promise<SystemUnderTest> {
  const mode = process.env.E2E_MODE ?? 'embedded';
  if (mode === 'distributed') return startDistributedSystem(env);
  if (mode !== 'embedded') throw new Error(`E2E_MODE must be embedded or distributed, not ${mode}`);
  const adminToken = randomBytes(18).toString('base64url');
  const system = await startEmbedded({
    ADMIN_TOKEN: adminToken,
    PGLITE_DATA_DIR: 'memory',
    ...testDefaults,
    ...env,
  });
  // Through the services' own pool over the one PGlite session, so a read waits for their
  // transactions instead of running inside one.
  const query = (schema: string): Query => {
    const { Pool: PglitePool } = pglitePoolDriver({ pglite: system.pglite, schema });
    const pool = new PglitePool({}) as { query(sql: string): Promise<{ rows: Array<Record<string, unknown>> }> };
    return async (sql) => (await pool.query(sql)).rows;
  };
  const services = ['order', 'payment', 'inventory', 'analytics', 'notification'];
  return {
    urls: system.urls,
    adminToken: system.adminToken,
    blobConnectionString: system.blobConnectionString,
    archiveContainer: 'analytics-archive',
    smtp: system.smtp,
    fingerprint: new Fingerprint(Object.fromEntries(services.map((s) => [s, { query: query(s), schema: s }]))),
    produceToStream: (topic, records) => system.stream.produce(topic, records),
    stop: () => system.stop(),
  };
}

/**
 * The four built services (`npm run build` first) as child processes: each on a fresh
 * PostgreSQL database of its own and all under a broker namespace of their own, both removed
 * again by `stop()`. Needs PostgreSQL (TEST_DATABASE_URL) and RabbitMQ (RABBITMQ_URL).
 */
export async function startDistributedSystem(env: NodeJS.ProcessEnv = {}): Promise<DistributedSystem> {
  const system = await launchDistributed({ ...testDefaults, ...env });
  const pools = Object.values(system.databaseUrls).length
    ? Object.entries(system.databaseUrls).map(([s, url]) => [s, new Pool({ connectionString: url, max: 1 })] as const)
    : [];
  const fingerprint = new Fingerprint(
    Object.fromEntries(pools.map(([s, pool]) => [s, { query: async (sql: string) => (await pool.query(sql)).rows, schema: 'public' }])),
  );
  return {
    ...system,
    fingerprint,
    produceToStream: async (topic, records) => {
      const producer = new Kafka({
        clientId: 'e2e-producer',
        brokers: (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(','),
        logLevel: logLevel.NOTHING,
      }).producer();
      await producer.connect();
      try {
        await producer.send({ topic: `${system.namespace}${topic}`, messages: records.map((r) => ({ key: r.key, value: r.value, headers: r.headers })) });
      } finally {
        await producer.disconnect();
      }
    },
    stop: async () => {
      await Promise.all(pools.map(([, pool]) => pool.end()));
      await system.stop();
    },
  };
}
