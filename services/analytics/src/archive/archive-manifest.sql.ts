import type { Dialect } from '@app/persistence';

/**
 * The manifest's statements, both dialects side by side. The PostgreSQL ones run in
 * archive-manifest.int.spec.ts. The SQL Server ones are UNVERIFIED: no SQL Server is at hand,
 * they were written from the T-SQL documentation and checked by
 * archive-manifest.mssql.unit.spec.ts only for PostgreSQL-only tokens, never run on a server.
 * Each call is one statement (or one T-SQL batch) per blob, whatever the number of its events.
 * `partition` is bracketed on SQL Server, where PARTITION is a keyword.
 */
export const archiveManifestSql = {
  /**
   * Locks the partition's row and answers how far it is claimed. An upsert rather than SELECT
   * ... FOR UPDATE: a partition's first claim has no row to lock yet, and two owners would then
   * both see nothing and both claim; the upsert takes the row lock whether it inserts or not.
   */
  lockPartition(d: Dialect): string {
    return d === 'postgres'
      ? `INSERT INTO archive_partitions (topic, partition, archived_through) VALUES ($1, $2, -1)
           ON CONFLICT (topic, partition) DO UPDATE SET archived_through = archive_partitions.archived_through RETURNING archived_through`
      : `MERGE archive_partitions WITH (HOLDLOCK) AS p USING (SELECT @0 AS topic, @1 AS [partition]) AS x ON p.topic = x.topic AND p.[partition] = x.[partition]
           WHEN NOT MATCHED THEN INSERT (topic, [partition], archived_through) VALUES (x.topic, x.[partition], -1);
         SELECT archived_through FROM archive_partitions WITH (UPDLOCK, ROWLOCK) WHERE topic = @0 AND [partition] = @1`;
  },

  /** The blobs of a partition that hold an offset in [from, to], in offset order. */
  blobsBetween(d: Dialect): string {
    return d === 'postgres'
      ? `SELECT name, first_offset, last_offset, state FROM archive_blobs
           WHERE topic = $1 AND partition = $2 AND last_offset >= $3 AND first_offset <= $4 ORDER BY first_offset`
      : `SELECT name, first_offset, last_offset, state FROM archive_blobs
           WHERE topic = @0 AND [partition] = @1 AND last_offset >= @2 AND first_offset <= @3 ORDER BY first_offset`;
  },

  /**
   * Claims a blob: its row (pending), the partition's new archived_through, and its events,
   * keeping only those whose messageId no blob holds yet; answers the kept ones.
   */
  claimBlob(d: Dialect): string {
    return d === 'postgres'
      ? `WITH blob AS (
           INSERT INTO archive_blobs (name, topic, partition, first_offset, last_offset, state) VALUES ($1::text, $2::text, $3::int, $4::bigint, $5::bigint, 'pending')
         ), advanced AS (
           UPDATE archive_partitions SET archived_through = $5 WHERE topic = $2 AND partition = $3
         )
         INSERT INTO archive_events (message_id, blob_name, topic, partition, record_offset)
         SELECT m, $1, $2, $3, o FROM unnest($6::text[], $7::bigint[]) AS x(m, o) ORDER BY m
         ON CONFLICT (message_id) DO NOTHING RETURNING message_id`
      : `INSERT INTO archive_blobs (name, topic, [partition], first_offset, last_offset, state) VALUES (@0, @1, @2, @3, @4, 'pending');
         UPDATE archive_partitions SET archived_through = @4 WHERE topic = @1 AND [partition] = @2;
         INSERT INTO archive_events (message_id, blob_name, topic, [partition], record_offset) OUTPUT inserted.message_id
           SELECT x.message_id, @0, @1, @2, x.record_offset FROM OPENJSON(@5) WITH (message_id nvarchar(100), record_offset bigint) AS x
           WHERE NOT EXISTS (SELECT 1 FROM archive_events e WITH (UPDLOCK, HOLDLOCK) WHERE e.message_id = x.message_id)`;
  },

  /**
   * Marks a blob uploaded and answers the first offset of its partition's oldest blob still
   * pending (null if none). PostgreSQL's main query sees the row as it was before the update in
   * its WITH, hence `name <> $1`.
   */
  markStored(d: Dialect): string {
    return d === 'postgres'
      ? `WITH stored AS (UPDATE archive_blobs SET state = 'stored' WHERE name = $1)
         SELECT min(first_offset) AS pending_from FROM archive_blobs WHERE topic = $2 AND partition = $3 AND state = 'pending' AND name <> $1`
      : `UPDATE archive_blobs SET state = 'stored' WHERE name = @0;
         SELECT MIN(first_offset) AS pending_from FROM archive_blobs WHERE topic = @1 AND [partition] = @2 AND state = 'pending'`;
  },

  /** A blob's state, and the offsets of its events among the given messageIds (by the primary key: no scan of the blob's events). */
  contents(d: Dialect): string {
    return d === 'postgres'
      ? `SELECT b.state, e.record_offset FROM archive_blobs b
           LEFT JOIN archive_events e ON e.blob_name = b.name AND e.message_id = ANY($2::text[]) WHERE b.name = $1`
      : `SELECT b.state, e.record_offset FROM archive_blobs b
           LEFT JOIN archive_events e ON e.blob_name = b.name AND e.message_id IN (SELECT value FROM OPENJSON(@1)) WHERE b.name = @0`;
  },
};
