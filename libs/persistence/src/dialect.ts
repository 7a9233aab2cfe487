import type { DataSource, EntityManager, QueryRunner } from 'typeorm';

/**
 * The two SQL dialects the services run on. Entities and repositories stay portable through
 * TypeORM; the few hand-written statements (outbox claim, inbox insert, upserts, locks) ask
 * for their dialect here and keep both spellings side by side.
 */
export type Dialect = 'postgres' | 'mssql';

export function dialectOf(x: EntityManager | DataSource | QueryRunner): Dialect {
  const ds = 'connection' in x ? x.connection : x;
  return ds.options.type === 'mssql' ? 'mssql' : 'postgres';
}

/** The n-th (0-based) bound parameter: `$1` on PostgreSQL, `@0` on SQL Server. */
export function param(d: Dialect, n: number): string {
  return d === 'mssql' ? `@${n}` : `$${n + 1}`;
}

export function params(d: Dialect, count: number, from = 0): string {
  return Array.from({ length: count }, (_, i) => param(d, from + i)).join(', ');
}

export function nowSql(d: Dialect): string {
  return d === 'mssql' ? 'SYSDATETIMEOFFSET()' : 'now()';
}

/** FNV-1a, 32-bit: PostgreSQL advisory locks take integers; SQL Server app locks take names. */
export function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h | 0;
}

/** The statement that takes a lock named `resource` until the transaction ends. */
export function transactionLockSql(d: Dialect, resource: string, wait: boolean): { sql: string; params: unknown[] } {
  if (d === 'mssql') {
    // sp_getapplock returns >= 0 when granted; LockTimeout 0 = do not wait.
    return {
      sql: `DECLARE @r int; EXEC @r = sp_getapplock @Resource = @0, @LockMode = 'Exclusive', @LockOwner = 'Transaction', @LockTimeout = ${wait ? 30000 : 0}; SELECT CASE WHEN @r >= 0 THEN 1 ELSE 0 END AS locked`,
      params: [resource.slice(0, 255)],
    };
  }
  return wait
    ? { sql: 'SELECT pg_advisory_xact_lock($1) IS NOT NULL AS locked', params: [hash32(resource)] }
    : { sql: 'SELECT pg_try_advisory_xact_lock($1) AS locked', params: [hash32(resource)] };
}

/**
 * Takes a transaction-scoped lock on a name: PostgreSQL advisory lock, SQL Server app lock.
 * `wait: false` answers at once whether it got the lock.
 */
export async function lockForTransaction(manager: EntityManager, resource: string, wait = true): Promise<boolean> {
  const { sql, params: values } = transactionLockSql(dialectOf(manager), resource, wait);
  const [row] = await manager.query(sql, values);
  const locked = row?.locked;
  return locked === true || locked === 1 || locked === '1' || locked === 't';
}
