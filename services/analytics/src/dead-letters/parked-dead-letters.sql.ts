import type { Dialect } from '@app/persistence';

const columns = `topic, partition, record_offset, record_timestamp, record_key, headers, value, error,
  original_topic, original_partition, original_offset, attempts, failed_at`;
const selected = `id, ${columns}, parked_at`;
const mssql = (text: string) => text.replace(/\bpartition\b/g, '[partition]');

/**
 * The parked dead letters' statements, both dialects side by side. The PostgreSQL ones run in
 * parked-dead-letters.int.spec.ts (on PostgreSQL and PGlite). The SQL Server ones are
 * UNVERIFIED, like the archive manifest's: written from the T-SQL documentation, checked by
 * parked-dead-letters.mssql.unit.spec.ts only for PostgreSQL-only tokens. `partition` is
 * bracketed on SQL Server, where PARTITION is a keyword.
 */
export const parkedDeadLettersSql = {
  /**
   * Parks one record unless it is parked already: reading the dead-letter topic again from an
   * offset not yet committed parks nothing twice. Keyed by the record's place and producer
   * timestamp: an in-process log (the embedded mode) starts again at offset 0 on every start
   * while PGlite's files outlive it, and a record of a new run at an old offset is a new one.
   */
  park(d: Dialect): string {
    return d === 'postgres'
      ? `INSERT INTO analytics_dead_letters (${columns})
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
           ON CONFLICT (topic, partition, record_offset, record_timestamp) DO NOTHING`
      : mssql(`INSERT INTO analytics_dead_letters (${columns})
           SELECT @0, @1, @2, @3, @4, @5, @6, @7, @8, @9, @10, @11, @12
           WHERE NOT EXISTS (SELECT 1 FROM analytics_dead_letters WITH (UPDLOCK, HOLDLOCK)
             WHERE topic = @0 AND partition = @1 AND record_offset = @2 AND record_timestamp = @3)`);
  },

  /** Oldest first, after an id (keyset: a page costs the same however deep). */
  page(d: Dialect): string {
    return d === 'postgres'
      ? `SELECT ${selected} FROM analytics_dead_letters WHERE id > $1 ORDER BY id LIMIT $2`
      : mssql(`SELECT TOP (@1) ${selected} FROM analytics_dead_letters WHERE id > @0 ORDER BY id`);
  },

  one(d: Dialect): string {
    return d === 'postgres'
      ? `SELECT ${selected} FROM analytics_dead_letters WHERE id = $1`
      : mssql(`SELECT ${selected} FROM analytics_dead_letters WHERE id = @0`);
  },

  /** Up to `limit` rows from an id through another, oldest first (a replay of all, a batch at a time). */
  between(d: Dialect): string {
    return d === 'postgres'
      ? `SELECT ${selected} FROM analytics_dead_letters WHERE id > $1 AND id <= $2 ORDER BY id LIMIT $3`
      : mssql(`SELECT TOP (@2) ${selected} FROM analytics_dead_letters WHERE id > @0 AND id <= @1 ORDER BY id`);
  },

  /** Deletes the given ids (a JSON array on SQL Server); answers the ids deleted. */
  deleteIds(d: Dialect): string {
    return d === 'postgres'
      ? 'DELETE FROM analytics_dead_letters WHERE id = ANY($1::bigint[]) RETURNING id'
      : 'DELETE FROM analytics_dead_letters OUTPUT deleted.id WHERE id IN (SELECT CAST(value AS bigint) FROM OPENJSON(@0))';
  },

  deleteAll(d: Dialect): string {
    return d === 'postgres'
      ? 'WITH deleted AS (DELETE FROM analytics_dead_letters RETURNING 1) SELECT count(*) AS n FROM deleted'
      : 'DELETE FROM analytics_dead_letters; SELECT @@ROWCOUNT AS n';
  },

  /** How many are parked, and the newest id (where a replay of all stops). */
  summary(d: Dialect): string {
    return d === 'postgres'
      ? 'SELECT count(*) AS n, max(id) AS newest FROM analytics_dead_letters'
      : 'SELECT COUNT_BIG(*) AS n, MAX(id) AS newest FROM analytics_dead_letters';
  },
};
