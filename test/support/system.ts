import { randomBytes } from 'node:crypto';
import { startEmbedded } from '../../services/embedded/src/embedded';
import { launchDistributed, type DistributedSystem } from './distributed';

export type { DistributedSystem, ServiceName } from './distributed';

export interface SystemUnderTest {
  urls: { order: string; payment: string; inventory: string; analytics: string };
  adminToken: string;
  /** Where the analytics archive is (Azurite), for reading the blobs directly. */
  blobConnectionString: string;
  archiveContainer: string;
  stop(): Promise<void>;
}

/** What every test system starts with unless a test says otherwise: no demo data, fast retries. */
const testDefaults: NodeJS.ProcessEnv = {
  SEED_DEMO_DATA: 'false',
  ORDER_PORT: '0',
  PAYMENT_PORT: '0',
  INVENTORY_PORT: '0',
  ANALYTICS_PORT: '0',
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
  return {
    urls: system.urls,
    adminToken: system.adminToken,
    blobConnectionString: system.blobConnectionString,
    archiveContainer: 'analytics-archive',
    stop: () => system.stop(),
  };
}

/**
 * The four built services (`npm run build` first) as child processes: each on a fresh
 * PostgreSQL database of its own and all under a broker namespace of their own, both removed
 * again by `stop()`. Needs PostgreSQL (TEST_DATABASE_URL) and RabbitMQ (RABBITMQ_URL).
 */
export function startDistributedSystem(env: NodeJS.ProcessEnv = {}): Promise<DistributedSystem> {
  return launchDistributed({ ...testDefaults, ...env });
}
