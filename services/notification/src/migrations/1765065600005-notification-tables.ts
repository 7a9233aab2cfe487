import type { MigrationInterface, QueryRunner } from 'typeorm';
import { dialectOf } from '@app/persistence';

/**
 * One delivery record per (order, outcome): what was (or could not be) told to the customer.
 * The primary key is what makes an outcome's email one, whatever is redelivered or replayed.
 */
export class NotificationTables1765065600005 implements MigrationInterface {
  name = 'NotificationTables1765065600005';

  async up(q: QueryRunner): Promise<void> {
    if (dialectOf(q) === 'mssql') return upSqlServer(q);
    await q.query(`
      CREATE TABLE notifications (
        order_id uuid NOT NULL,
        outcome varchar(20) NOT NULL CHECK (outcome IN ('CONFIRMED', 'CANCELLED')),
        customer_id varchar(64) NOT NULL,
        recipient varchar(254) NULL,
        subject varchar(300) NOT NULL,
        status varchar(20) NOT NULL CHECK (status IN ('SENT', 'SKIPPED', 'FAILED')),
        attempts integer NOT NULL DEFAULT 0,
        last_error varchar(1000) NULL,
        message_id varchar(300) NOT NULL,
        smtp_response varchar(300) NULL,
        correlation_id varchar(200) NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        sent_at timestamptz NULL,
        PRIMARY KEY (order_id, outcome)
      )`);
    await q.query('CREATE INDEX notifications_customer ON notifications (customer_id, created_at)');
    await q.query('CREATE INDEX notifications_created ON notifications (created_at, order_id)');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE notifications');
  }
}

/** The same table on SQL Server (UUIDs as nvarchar(36), customer ids case-sensitive). */
async function upSqlServer(q: QueryRunner): Promise<void> {
  await q.query(`
    CREATE TABLE notifications (
      order_id nvarchar(36) NOT NULL,
      outcome nvarchar(20) NOT NULL,
      customer_id nvarchar(64) COLLATE Latin1_General_100_BIN2 NOT NULL,
      recipient nvarchar(254) NULL,
      subject nvarchar(300) NOT NULL,
      status nvarchar(20) NOT NULL,
      attempts int NOT NULL CONSTRAINT notifications_attempts_default DEFAULT 0,
      last_error nvarchar(1000) NULL,
      message_id nvarchar(300) NOT NULL,
      smtp_response nvarchar(300) NULL,
      correlation_id nvarchar(200) NOT NULL,
      created_at datetimeoffset NOT NULL CONSTRAINT notifications_created_at_default DEFAULT SYSDATETIMEOFFSET(),
      updated_at datetimeoffset NOT NULL CONSTRAINT notifications_updated_at_default DEFAULT SYSDATETIMEOFFSET(),
      sent_at datetimeoffset NULL,
      CONSTRAINT notifications_pkey PRIMARY KEY (order_id, outcome),
      CONSTRAINT notifications_outcome_check CHECK (outcome IN ('CONFIRMED', 'CANCELLED')),
      CONSTRAINT notifications_status_check CHECK (status IN ('SENT', 'SKIPPED', 'FAILED'))
    )`);
  await q.query('CREATE INDEX notifications_customer ON notifications (customer_id, created_at)');
  await q.query('CREATE INDEX notifications_created ON notifications (created_at, order_id)');
}
