import type { PGlite } from '@electric-sql/pglite';
import { DataSource, type DataSourceOptions, type EntitySchema, type MixedList } from 'typeorm';
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
  const ds = new DataSource(dsOptions);
  await ds.initialize();
  if (database.kind === 'mssql') sqlServerDateColumns(ds);
  if (options.runMigrations ?? true) {
    const schema = database.kind === 'mssql' ? undefined : database.schema;
    if (schema) await ds.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    await ds.runMigrations({ transaction: 'each' });
  }
  return ds;
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
