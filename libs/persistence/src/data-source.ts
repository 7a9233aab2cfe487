import type { PGlite } from '@electric-sql/pglite';
import { DataSource, type DataSourceOptions, type EntitySchema, type MixedList } from 'typeorm';
import { backoffMs, sleep } from '@app/platform';
import { sqlServerDateColumns } from './column-types';
import { pglitePoolDriver } from './pglite-pool';

/**
 * Where a service keeps its data. The service's module chooses; nothing else knows.
 * - `pglite`: in-process PostgreSQL (embedded mode), one schema per service.
 * - `postgres`: a real server; one database (or schema) per service.
 */
export type DatabaseConfig =
  | { kind: 'pglite'; pglite: PGlite; schema: string }
  | { kind: 'postgres'; url: string; schema?: string; poolSize?: number }
  | { kind: 'mssql'; url: string; poolSize?: number };

/**
 * `postgres://…` or `postgresql://…` → PostgreSQL; `mssql://user:password@host:1433/database`
 * (or `sqlserver://`) → SQL Server, with `?encrypt=true&trustServerCertificate=true` as options.
 */
export function databaseFromUrl(url: string, schema?: string): DatabaseConfig {
  const protocol = new URL(url).protocol;
  if (protocol === 'mssql:' || protocol === 'sqlserver:') return { kind: 'mssql', url };
  if (protocol === 'postgres:' || protocol === 'postgresql:') return { kind: 'postgres', url, schema };
  throw new Error(`DATABASE_URL: unsupported database ${protocol.replace(':', '')} (postgres or mssql)`);
}

/** The shared options minus the PostgreSQL-only ones. */
function mssqlCommon<T extends { parseInt8?: boolean; applicationName?: string; type: string }>(common: T) {
  const { parseInt8: _p, applicationName: _a, type: _t, ...rest } = common;
  return rest;
}

function mssqlOptions(url: string, poolSize?: number) {
  const u = new URL(url);
  const flag = (name: string, fallback: boolean) => (u.searchParams.has(name) ? u.searchParams.get(name) === 'true' : fallback);
  return {
    type: 'mssql' as const,
    host: u.hostname,
    port: u.port ? Number(u.port) : 1433,
    username: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
    database: decodeURIComponent(u.pathname.replace(/^\//, '')),
    options: { encrypt: flag('encrypt', false), trustServerCertificate: flag('trustServerCertificate', true) },
    pool: { max: poolSize ?? 10 },
  };
}

export interface OpenDataSourceOptions {
  database: DatabaseConfig;
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type -- TypeORM's own type for entity classes
  entities: MixedList<Function | string | EntitySchema>;
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type -- TypeORM's own type for migration classes
  migrations: MixedList<Function | string>;
  runMigrations?: boolean;
  applicationName?: string;
  /**
   * How long to keep trying while the server cannot be reached (default 30 s, as the brokers'
   * connections): a service started before its database, or while it restarts, waits for it
   * instead of exiting. A refusal by a server that answers (a wrong password, a database that
   * does not exist) fails at once.
   */
  connectTimeoutMs?: number;
  /** Told of each failed attempt that will be retried (the service logs it). */
  onRetry?: (error: unknown, delayMs: number) => void;
}

export async function openDataSource(options: OpenDataSourceOptions): Promise<DataSource> {
  const { database } = options;
  const common = {
    type: 'postgres' as const,
    entities: options.entities,
    migrations: options.migrations,
    migrationsRun: false,
    synchronize: false,
    logging: ['error'] as 'error'[],
    parseInt8: true,
    applicationName: options.applicationName,
  };
  const dsOptions: DataSourceOptions =
    database.kind === 'pglite'
      ? { ...common, schema: database.schema, driver: pglitePoolDriver({ pglite: database.pglite, schema: database.schema }), extra: { max: 1 } }
      : database.kind === 'mssql'
        ? { ...mssqlCommon(common), ...mssqlOptions(database.url, database.poolSize) }
        : { ...common, url: database.url, schema: database.schema, poolSize: database.poolSize ?? 10 };
  const deadline = Date.now() + (options.connectTimeoutMs ?? 30_000);
  let ds: DataSource;
  for (let attempt = 0; ; attempt++) {
    // A DataSource whose initialize failed is not reused: its driver may hold a half-made pool.
    ds = new DataSource(dsOptions);
    try {
      await ds.initialize();
      break;
    } catch (error) {
      await ds.destroy().catch(() => undefined);
      const delayMs = backoffMs(attempt, { baseMs: 250, maxMs: 5000, jitter: 0.2 });
      if (database.kind === 'pglite' || !unreachable(error) || Date.now() + delayMs > deadline) throw error;
      options.onRetry?.(error, delayMs);
      await sleep(delayMs);
    }
  }
  if (database.kind === 'mssql') sqlServerDateColumns(ds);
  if (options.runMigrations ?? true) {
    const schema = database.kind === 'mssql' ? undefined : database.schema;
    if (schema) await ds.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    await ds.runMigrations({ transaction: 'each' });
  }
  return ds;
}

/**
 * The server could not be reached, or is not accepting connections yet: worth another try. Any
 * answer from a server that is up (authentication, a missing database, a bad setting) is not.
 */
function unreachable(error: unknown): boolean {
  const e = error as { code?: string; message?: string; originalError?: { code?: string } };
  const code = e.code ?? e.originalError?.code;
  if (code && ['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE'].includes(code)) return true;
  // PostgreSQL starting up, shutting down or in recovery (57P03 cannot_connect_now, 57P01 admin_shutdown).
  if (code === '57P03' || code === '57P01') return true;
  // SQL Server's driver (tedious): a socket error or a connect timeout.
  if (code === 'ESOCKET' || code === 'ETIMEOUT') return true;
  return /Connection terminated unexpectedly|timeout exceeded when trying to connect/i.test(e.message ?? '');
}

/** Opens the in-process PostgreSQL. `dataDir` undefined keeps everything in memory. */
export async function openPglite(dataDir?: string): Promise<PGlite> {
  const { PGlite } = await import('@electric-sql/pglite');
  if (dataDir) {
    const fs = await import('node:fs');
    fs.mkdirSync(dataDir, { recursive: true });
  }
  return PGlite.create(dataDir ? { dataDir } : undefined);
}
