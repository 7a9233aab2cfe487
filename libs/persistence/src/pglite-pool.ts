import type { PGlite, Results } from '@electric-sql/pglite';
import { EventEmitter } from 'node:events';

/**
 * A `pg`-shaped Pool over an in-process PGlite, so TypeORM's postgres driver runs unchanged
 * in the embedded mode.
 *
 * Why our own (ADR 0002): PGlite is one session. `typeorm-pglite` hands that one session to
 * every query runner at once, so two transactions interleave and corrupt each other;
 * `pglite-socket` serves one client at a time and drops a pool of more. Here a checkout owns
 * the session exclusively until released (others queue), which gives real transaction
 * isolation; and each pool pins its service's schema, so four services can share one PGlite
 * the way they would share one server with a database each.
 */
class SessionLock {
  private tail: Promise<void> = Promise.resolve();
  currentSchema: string | undefined;

  acquire(): Promise<() => void> {
    let release!: () => void;
    const next = new Promise<void>((r) => (release = r));
    const ready = this.tail.then(() => release);
    this.tail = this.tail.then(() => next);
    return ready;
  }
}

const locks = new WeakMap<PGlite, SessionLock>();

function lockFor(db: PGlite): SessionLock {
  let lock = locks.get(db);
  if (!lock) locks.set(db, (lock = new SessionLock()));
  return lock;
}

interface PgResult {
  rows: unknown[];
  rowCount: number;
  command: string;
  fields: Results['fields'];
}

function toPgResult(r: Results | undefined, sql: string): PgResult {
  const command = (/^\s*(\w+)/.exec(sql)?.[1] ?? '').toUpperCase();
  return { rows: r?.rows ?? [], rowCount: r?.affectedRows ?? r?.rows.length ?? 0, command, fields: r?.fields ?? [] };
}

/**
 * What every embedded database of this process has run, for the benchmark: statements, and
 * commits (explicit, or a statement's own implicit transaction), as pg_stat_statements and
 * pg_stat_database count them on a server.
 */
export const pgliteCounters = { statements: 0, commits: 0 };

class PgliteClient extends EventEmitter {
  private inTransaction = false;

  constructor(private readonly db: PGlite) {
    super();
  }

  private count(text: string): void {
    pgliteCounters.statements++;
    const command = (/^\s*(\w+)/.exec(text)?.[1] ?? '').toUpperCase();
    if (command === 'BEGIN' || command === 'START') this.inTransaction = true;
    else if (command === 'COMMIT' || command === 'END') {
      this.inTransaction = false;
      pgliteCounters.commits++;
    } else if (command === 'ROLLBACK') this.inTransaction = false;
    else if (!this.inTransaction) pgliteCounters.commits++;
  }

  async query(sql: string | { text: string; values?: unknown[] }, params?: unknown[]): Promise<PgResult> {
    const text = typeof sql === 'string' ? sql : sql.text;
    const values = typeof sql === 'string' ? params : sql.values;
    this.count(text);
    if (values && values.length > 0) return toPgResult(await this.db.query(text, values), text);
    // Parameterless text may hold several statements (migrations): run them all, answer with the last.
    const results = await this.db.exec(text);
    return toPgResult(results[results.length - 1], text);
  }

  release(): void {}
}

export interface PglitePoolOptions {
  pglite: PGlite;
  schema: string;
}

export function pglitePoolDriver(options: PglitePoolOptions): { Pool: new (opts: unknown) => unknown } {
  const { pglite, schema } = options;
  const lock = lockFor(pglite);

  class PglitePool extends EventEmitter {
    private ended = false;

    connect(callback?: (err: Error | null, client?: PgliteClient, release?: (err?: unknown) => void) => void): Promise<PgliteClient> | void {
      const p = this.checkout();
      if (!callback) return p.then(([client]) => client);
      p.then(
        ([client, release]) => callback(null, client, release),
        (err: Error) => callback(err),
      );
    }

    private async checkout(): Promise<[PgliteClient, () => void]> {
      if (this.ended) throw new Error('pool has ended');
      const unlock = await lock.acquire();
      try {
        if (lock.currentSchema !== schema) {
          await pglite.exec(`SET search_path TO "${schema}"`);
          lock.currentSchema = schema;
        }
      } catch (e) {
        unlock();
        throw e;
      }
      let released = false;
      const client = new PgliteClient(pglite);
      return [
        client,
        () => {
          if (released) return;
          released = true;
          unlock();
        },
      ];
    }

    async query(sql: string, params?: unknown[]): Promise<PgResult> {
      const [client, release] = await this.checkout();
      try {
        return await client.query(sql, params);
      } finally {
        release();
      }
    }

    end(callback?: (err?: Error | null) => void): Promise<void> | void {
      // The PGlite instance is shared and closed by whoever opened it.
      this.ended = true;
      if (callback) callback(null);
      else return Promise.resolve();
    }
  }

  return { Pool: PglitePool as unknown as new (opts: unknown) => unknown };
}
