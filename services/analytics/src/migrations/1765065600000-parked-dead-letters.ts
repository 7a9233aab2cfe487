import type { MigrationInterface, QueryRunner } from 'typeorm';
import { dialectOf } from '@app/persistence';

/**
 * Analytics' dead letters: every record of its Kafka dead-letter topic, parked whole (key,
 * headers, value) with the failure the archiver attached, until an operator replays or purges
 * it. One row per record of the topic (its place and producer timestamp), so reading the topic
 * again parks nothing twice.
 */
export class ParkedDeadLetters1765065600000 implements MigrationInterface {
  name = 'ParkedDeadLetters1765065600000';

  async up(q: QueryRunner): Promise<void> {
    if (dialectOf(q) === 'mssql') return upSqlServer(q);
    await q.query(`
      CREATE TABLE analytics_dead_letters (
        id bigserial PRIMARY KEY,
        topic varchar(249) NOT NULL,
        partition int NOT NULL,
        record_offset bigint NOT NULL,
        record_timestamp bigint NOT NULL,
        record_key text NULL,
        headers text NOT NULL,
        value text NOT NULL,
        error text NOT NULL,
        original_topic varchar(249) NULL,
        original_partition int NULL,
        original_offset bigint NULL,
        attempts int NOT NULL,
        failed_at timestamptz NULL,
        parked_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT analytics_dead_letters_record UNIQUE (topic, partition, record_offset, record_timestamp)
      )`);
  }

  /** The same statement on both databases. */
  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE analytics_dead_letters');
  }
}

/** The same table on SQL Server (topics case-sensitive as on PostgreSQL; `partition` bracketed). Not run here: no SQL Server is at hand. */
async function upSqlServer(q: QueryRunner): Promise<void> {
  await q.query(`
    CREATE TABLE analytics_dead_letters (
      id bigint IDENTITY(1,1) NOT NULL CONSTRAINT analytics_dead_letters_pkey PRIMARY KEY,
      topic nvarchar(249) COLLATE Latin1_General_100_BIN2 NOT NULL,
      [partition] int NOT NULL,
      record_offset bigint NOT NULL,
      record_timestamp bigint NOT NULL,
      record_key nvarchar(max) NULL,
      headers nvarchar(max) NOT NULL,
      value nvarchar(max) NOT NULL,
      error nvarchar(max) NOT NULL,
      original_topic nvarchar(249) COLLATE Latin1_General_100_BIN2 NULL,
      original_partition int NULL,
      original_offset bigint NULL,
      attempts int NOT NULL,
      failed_at datetimeoffset NULL,
      parked_at datetimeoffset NOT NULL CONSTRAINT analytics_dead_letters_parked_at DEFAULT SYSDATETIMEOFFSET(),
      CONSTRAINT analytics_dead_letters_record UNIQUE (topic, [partition], record_offset, record_timestamp)
    )`);
}
