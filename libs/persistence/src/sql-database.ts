import { createHash } from 'node:crypto';
import type { DataSource, QueryRunner } from 'typeorm';
import { dialectOf, type Dialect } from './dialect';

/**
 * The hot path's database seam: plain SQL on one connection, with no ORM in between. Handlers
 * that run per message (inbox, lock-and-load, set-based writes, outbox) use it; TypeORM stays
 * for migrations, admin endpoints and queries off the hot path.
 *
 * On PostgreSQL (and PGlite) a session is a client of the pool TypeORM already opened (its
 * `pg` pool, or the PGlite pool of ADR 0002), and a statement given a name is prepared once per
 * connection. On SQL Server a session is a TypeORM query runner: the mssql driver's own pool,
 * and `@0`-style parameters as everywhere else in the project.
 */
export interface SqlSession {
  readonly dialect: Dialect;
  /** One statement. `prepare`: the same text is parsed and planned once per connection. */
  query<R = Record<string, unknown>>(text: string, params?: readonly unknown[], options?: { prepare?: boolean }): Promise<R[]>;
}

export interface SqlDatabase {
  readonly dialect: Dialect;
  /** BEGIN, the work, COMMIT (ROLLBACK if it throws); one connection throughout. */
  transaction<T>(work: (session: SqlSession) => Promise<T>): Promise<T>;
  /** One statement in its own transaction. */
  query<R = Record<string, unknown>>(text: string, params?: readonly unknown[], options?: { prepare?: boolean }): Promise<R[]>;
}

interface PgClient {
  query(config: { text: string; values?: unknown[]; name?: string }): Promise<{ rows: unknown[] }>;
  /** node-postgres' clients are event emitters; PGlite's pool adapter (no socket to lose) need not be. */
  on?(event: 'error', listener: (error: Error) => void): unknown;
  off?(event: 'error', listener: (error: Error) => void): unknown;
}
interface PgPool {
  connect(callback: (err: Error | undefined | null, client: PgClient | undefined, release: (err?: unknown) => void) => void): void;
}

/** Statement names are derived from the text, so one name always means one text. */
const names = new Map<string, string>();
function statementName(text: string): string {
  let name = names.get(text);
  if (!name) {
    name = `s_${createHash('sha1').update(text).digest('hex').slice(0, 16)}`;
    names.set(text, name);
  }
  return name;
}

function pgSession(client: PgClient): SqlSession {
  return {
    dialect: 'postgres',
    async query<R>(text: string, params: readonly unknown[] = [], options: { prepare?: boolean } = {}): Promise<R[]> {
      const result = await client.query({ text, values: [...params], ...(options.prepare ? { name: statementName(text) } : {}) });
      return result.rows as R[];
    },
  };
}

/**
 * A client of the pool, for one statement or one transaction. The pool listens for a dead
 * socket only on its idle clients: a checked-out client whose server goes away (PostgreSQL
 * restarted, the network cut) emits 'error', and an 'error' nobody listens to ends the process.
 * The statement in flight fails with that error anyway; the listener keeps it from being fatal
 * and has the pool discard the client instead of handing it out again.
 */
function checkout(pool: PgPool): Promise<{ client: PgClient; release: (err?: unknown) => void }> {
  return new Promise((resolve, reject) => {
    pool.connect((err, client, release) => {
      if (err || !client) return reject(err ?? new Error('no client'));
      let dead: Error | undefined;
      const onError = (error: Error) => (dead = error);
      client.on?.('error', onError);
      resolve({
        client,
        release: (failure?: unknown) => {
          client.off?.('error', onError);
          release(failure ?? dead);
        },
      });
    });
  });
}

function postgresDatabase(pool: PgPool): SqlDatabase {
  return {
    dialect: 'postgres',
    async transaction<T>(work: (session: SqlSession) => Promise<T>): Promise<T> {
      const { client, release } = await checkout(pool);
      let broken: unknown;
      try {
        await client.query({ text: 'BEGIN' });
        try {
          const value = await work(pgSession(client));
          await client.query({ text: 'COMMIT' });
          return value;
        } catch (error) {
          await client.query({ text: 'ROLLBACK' }).catch((rollbackError: unknown) => (broken = rollbackError));
          throw error;
        }
      } finally {
        // A connection whose ROLLBACK failed is in an unknown state: the pool discards it.
        release(broken);
      }
    },
    async query<R>(text: string, params?: readonly unknown[], options?: { prepare?: boolean }): Promise<R[]> {
      const { client, release } = await checkout(pool);
      try {
        return await pgSession(client).query<R>(text, params, options);
      } finally {
        release();
      }
    },
  };
}

function runnerSession(runner: QueryRunner): SqlSession {
  return {
    dialect: 'mssql',
    query: <R>(text: string, params: readonly unknown[] = []) => runner.query(text, [...params]) as Promise<R[]>,
  };
}

function typeormDatabase(ds: DataSource): SqlDatabase {
  return {
    dialect: dialectOf(ds),
    async transaction<T>(work: (session: SqlSession) => Promise<T>): Promise<T> {
      const runner = ds.createQueryRunner();
      await runner.connect();
      try {
        await runner.startTransaction();
        try {
          const value = await work(runnerSession(runner));
          await runner.commitTransaction();
          return value;
        } catch (error) {
          await runner.rollbackTransaction().catch(() => undefined);
          throw error;
        }
      } finally {
        await runner.release();
      }
    },
    query: <R>(text: string, params: readonly unknown[] = []) => ds.query(text, [...params]) as Promise<R[]>,
  };
}

/** The SQL seam over a service's (initialized) TypeORM data source. */
export function sqlDatabaseOf(ds: DataSource): SqlDatabase {
  if (dialectOf(ds) === 'mssql') return typeormDatabase(ds);
  const pool = (ds.driver as unknown as { master?: PgPool }).master;
  if (!pool) throw new Error('the data source is not initialized');
  return postgresDatabase(pool);
}
