import type { MigrationInterface, QueryRunner } from 'typeorm';
import { dialectOf } from '@app/persistence';

/**
 * The archive's manifest (ADR 0008): which offsets of each partition are claimed by a blob
 * (`archive_partitions.archived_through`), which blobs exist and whether they are uploaded
 * (`archive_blobs`), and which blob holds each event (`archive_events`, one row per messageId:
 * the key that makes the archive hold an event once however often the stream carries it).
 */
export class ArchiveManifest1764633600000 implements MigrationInterface {
  name = 'ArchiveManifest1764633600000';

  async up(q: QueryRunner): Promise<void> {
    if (dialectOf(q) === 'mssql') return upSqlServer(q);
    await q.query(`
      CREATE TABLE archive_partitions (
        topic varchar(249) NOT NULL,
        partition int NOT NULL,
        archived_through bigint NOT NULL,
        PRIMARY KEY (topic, partition)
      )`);
    await q.query(`
      CREATE TABLE archive_blobs (
        name varchar(200) PRIMARY KEY,
        topic varchar(249) NOT NULL,
        partition int NOT NULL,
        first_offset bigint NOT NULL,
        last_offset bigint NOT NULL,
        state varchar(7) NOT NULL CONSTRAINT archive_blobs_state CHECK (state IN ('pending', 'stored'))
      )`);
    // Which blob contains an offset (last_offset >= it), and a partition's oldest blob not yet
    // uploaded (the most its Kafka offset may be committed to): neither scans the partition.
    await q.query('CREATE INDEX archive_blobs_range ON archive_blobs (topic, partition, last_offset)');
    await q.query("CREATE INDEX archive_blobs_pending ON archive_blobs (topic, partition, first_offset) WHERE state = 'pending'");
    await q.query(`
      CREATE TABLE archive_events (
        message_id varchar(100) PRIMARY KEY,
        blob_name varchar(200) NOT NULL CONSTRAINT archive_events_blob REFERENCES archive_blobs (name),
        topic varchar(249) NOT NULL,
        partition int NOT NULL,
        record_offset bigint NOT NULL
      )`);
  }

  /** The same statements on both databases. */
  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE archive_events');
    await q.query('DROP TABLE archive_blobs');
    await q.query('DROP TABLE archive_partitions');
  }
}

/**
 * The same tables on SQL Server (constraint names as PostgreSQL gives them; topics, blob names
 * and message ids case-sensitive as on PostgreSQL; `partition` bracketed, as a keyword of T-SQL's
 * grammar). Not run here: no SQL Server is at hand.
 */
async function upSqlServer(q: QueryRunner): Promise<void> {
  await q.query(`
    CREATE TABLE archive_partitions (
      topic nvarchar(249) COLLATE Latin1_General_100_BIN2 NOT NULL,
      [partition] int NOT NULL,
      archived_through bigint NOT NULL,
      CONSTRAINT archive_partitions_pkey PRIMARY KEY (topic, [partition])
    )`);
  await q.query(`
    CREATE TABLE archive_blobs (
      name nvarchar(200) COLLATE Latin1_General_100_BIN2 NOT NULL,
      topic nvarchar(249) COLLATE Latin1_General_100_BIN2 NOT NULL,
      [partition] int NOT NULL,
      first_offset bigint NOT NULL,
      last_offset bigint NOT NULL,
      state nvarchar(7) NOT NULL CONSTRAINT archive_blobs_state CHECK (state IN ('pending', 'stored')),
      CONSTRAINT archive_blobs_pkey PRIMARY KEY (name)
    )`);
  await q.query('CREATE INDEX archive_blobs_range ON archive_blobs (topic, [partition], last_offset)');
  await q.query("CREATE INDEX archive_blobs_pending ON archive_blobs (topic, [partition], first_offset) WHERE state = 'pending'");
  await q.query(`
    CREATE TABLE archive_events (
      message_id nvarchar(100) COLLATE Latin1_General_100_BIN2 NOT NULL,
      blob_name nvarchar(200) COLLATE Latin1_General_100_BIN2 NOT NULL,
      topic nvarchar(249) COLLATE Latin1_General_100_BIN2 NOT NULL,
      [partition] int NOT NULL,
      record_offset bigint NOT NULL,
      CONSTRAINT archive_events_pkey PRIMARY KEY (message_id),
      CONSTRAINT archive_events_blob FOREIGN KEY (blob_name) REFERENCES archive_blobs (name)
    )`);
}
