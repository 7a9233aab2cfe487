import type { MigrationInterface, QueryRunner } from 'typeorm';
import { dialectOf } from '@app/persistence';

export class AnalyticsTables1763769600004 implements MigrationInterface {
  name = 'AnalyticsTables1763769600004';

  async up(q: QueryRunner): Promise<void> {
    if (dialectOf(q) === 'mssql') return upSqlServer(q);
    // Every column but the status is nullable: events may arrive out of order, and the first
    // one seen for an order need not carry everything.
    await q.query(`
      CREATE TABLE order_facts (
        order_id uuid PRIMARY KEY,
        customer_id varchar(64) NULL,
        status varchar(20) NOT NULL,
        total bigint NULL,
        currency varchar(3) NULL,
        cancellation_reason varchar(30) NULL,
        placed_at timestamptz NULL,
        completed_at timestamptz NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query('CREATE INDEX order_facts_status ON order_facts (status)');
    await q.query(`
      CREATE TABLE event_counts (
        type varchar(100) PRIMARY KEY,
        count bigint NOT NULL,
        last_at timestamptz NULL
      )`);
  }

  /** The same statements on both databases. */
  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE event_counts');
    await q.query('DROP TABLE order_facts');
  }
}

/**
 * The same tables on SQL Server (constraint names as PostgreSQL gives them; customer ids and
 * message types case-sensitive as on PostgreSQL; UUIDs as nvarchar(36)).
 */
async function upSqlServer(q: QueryRunner): Promise<void> {
  await q.query(`
    CREATE TABLE order_facts (
      order_id nvarchar(36) NOT NULL,
      customer_id nvarchar(64) COLLATE Latin1_General_100_BIN2 NULL,
      status nvarchar(20) NOT NULL,
      total bigint NULL,
      currency nvarchar(3) NULL,
      cancellation_reason nvarchar(30) NULL,
      placed_at datetimeoffset NULL,
      completed_at datetimeoffset NULL,
      updated_at datetimeoffset NOT NULL CONSTRAINT order_facts_updated_at_default DEFAULT SYSDATETIMEOFFSET(),
      CONSTRAINT order_facts_pkey PRIMARY KEY (order_id)
    )`);
  await q.query('CREATE INDEX order_facts_status ON order_facts (status)');
  await q.query(`
    CREATE TABLE event_counts (
      type nvarchar(100) COLLATE Latin1_General_100_BIN2 NOT NULL,
      count bigint NOT NULL,
      last_at datetimeoffset NULL,
      CONSTRAINT event_counts_pkey PRIMARY KEY (type)
    )`);
}
