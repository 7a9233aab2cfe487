import { z } from 'zod';
import { bool, int, loadConfig, port } from '@app/platform';

/** Analytics' environment, validated at start-up. Names match .env.example and the k8s ConfigMap. */
export const analyticsConfigShape = {
  ANALYTICS_PORT: port(3003),
  HOST: z.string().default('127.0.0.1'),
  ADMIN_TOKEN: z.string().min(16, 'ADMIN_TOKEN must be at least 16 characters'),
  MAX_BODY_BYTES: int(65_536, 1024),
  /** `azure`: Azure Blob Storage (or Azurite) by connection string; `memory`: unit tests only. */
  ARCHIVE_STORE: z.enum(['azure', 'memory']).default('azure'),
  AZURE_STORAGE_CONNECTION_STRING: z.string().min(1).optional(),
  ARCHIVE_CONTAINER: z
    .string()
    .regex(/^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/, 'an Azure container name')
    .default('analytics-archive'),
  ARCHIVE_BATCH_MAX_EVENTS: int(500, 1),
  ARCHIVE_BATCH_MAX_MS: int(2000, 10),
  ARCHIVE_RETRY_DELAY_MS: int(2000, 0),
  ARCHIVE_GROUP_ID: z.string().min(1).default('analytics'),
  /** Test-only fault injection; never set in production. */
  ANALYTICS_FAULT: z.enum(['', 'kill-after-upload']).default(''),
  ANALYTICS_ARCHIVE: bool(true),
};

export type AnalyticsConfig = ReturnType<typeof loadAnalyticsConfig>;

export function loadAnalyticsConfig(env: NodeJS.ProcessEnv = process.env) {
  const c = loadConfig(analyticsConfigShape, env);
  if (c.ANALYTICS_ARCHIVE && c.ARCHIVE_STORE === 'azure' && !c.AZURE_STORAGE_CONNECTION_STRING) {
    throw new Error('Invalid configuration:\n  AZURE_STORAGE_CONNECTION_STRING: required when ARCHIVE_STORE=azure');
  }
  return {
    port: c.ANALYTICS_PORT,
    host: c.HOST,
    adminToken: c.ADMIN_TOKEN,
    maxBodyBytes: c.MAX_BODY_BYTES,
    archive: {
      enabled: c.ANALYTICS_ARCHIVE,
      store: c.ARCHIVE_STORE,
      connectionString: c.AZURE_STORAGE_CONNECTION_STRING,
      container: c.ARCHIVE_CONTAINER,
      batchMaxEvents: c.ARCHIVE_BATCH_MAX_EVENTS,
      batchMaxMs: c.ARCHIVE_BATCH_MAX_MS,
      retryDelayMs: c.ARCHIVE_RETRY_DELAY_MS,
      killAfterUpload: c.ANALYTICS_FAULT === 'kill-after-upload',
    },
    archiveGroupId: c.ARCHIVE_GROUP_ID,
  };
}

export const ANALYTICS_CONFIG = Symbol('ANALYTICS_CONFIG');
