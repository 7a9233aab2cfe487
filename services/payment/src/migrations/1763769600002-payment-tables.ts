import type { MigrationInterface, QueryRunner } from 'typeorm';
import { dialectOf } from '@app/persistence';

export class PaymentTables1763769600002 implements MigrationInterface {
  name = 'PaymentTables1763769600002';

  async up(q: QueryRunner): Promise<void> {
    if (dialectOf(q) === 'mssql') return upSqlServer(q);
    // The CHECK is the last line of defence against overspending; the handler's row lock is the first.
    await q.query(`
      CREATE TABLE accounts (
        customer_id varchar(64) PRIMARY KEY,
        balance bigint NOT NULL CHECK (balance >= 0),
        simulate_gateway_error boolean NOT NULL DEFAULT false,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    // One payment per order (UNIQUE order_id): a second OrderPlaced or a refund racing the first
    // finds the row, or fails on the constraint and is retried until it does. A VOIDED row is a
    // tombstone written by a refund that came first, so it has no customer or currency.
    await q.query(`
      CREATE TABLE payments (
        id uuid PRIMARY KEY,
        order_id uuid NOT NULL UNIQUE,
        customer_id varchar(64) NULL,
        amount bigint NOT NULL CHECK (amount >= 0),
        currency varchar(3) NULL,
        status varchar(20) NOT NULL CHECK (status IN ('AUTHORIZED', 'DECLINED', 'REFUNDED', 'VOIDED')),
        decline_reason varchar(30) NULL,
        refunded_amount bigint NOT NULL DEFAULT 0 CHECK (refunded_amount >= 0 AND refunded_amount <= amount),
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query('CREATE INDEX payments_customer ON payments (customer_id, created_at)');
  }

  /** The same statements on both databases. */
  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE payments');
    await q.query('DROP TABLE accounts');
  }
}

/**
 * The same tables on SQL Server (constraint names as PostgreSQL gives them; customer ids
 * case-sensitive as on PostgreSQL; UUIDs as nvarchar(36)). SQL Server lets a column's CHECK
 * name only that column, so the refund bound, which reads the amount too, is a table CHECK.
 */
async function upSqlServer(q: QueryRunner): Promise<void> {
  await q.query(`
    CREATE TABLE accounts (
      customer_id nvarchar(64) COLLATE Latin1_General_100_BIN2 NOT NULL,
      balance bigint NOT NULL,
      simulate_gateway_error bit NOT NULL CONSTRAINT accounts_simulate_gateway_error_default DEFAULT 0,
      updated_at datetimeoffset NOT NULL CONSTRAINT accounts_updated_at_default DEFAULT SYSDATETIMEOFFSET(),
      CONSTRAINT accounts_pkey PRIMARY KEY (customer_id),
      CONSTRAINT accounts_balance_check CHECK (balance >= 0)
    )`);
  await q.query(`
    CREATE TABLE payments (
      id nvarchar(36) NOT NULL,
      order_id nvarchar(36) NOT NULL,
      customer_id nvarchar(64) COLLATE Latin1_General_100_BIN2 NULL,
      amount bigint NOT NULL,
      currency nvarchar(3) NULL,
      status nvarchar(20) NOT NULL,
      decline_reason nvarchar(30) NULL,
      refunded_amount bigint NOT NULL CONSTRAINT payments_refunded_amount_default DEFAULT 0,
      created_at datetimeoffset NOT NULL CONSTRAINT payments_created_at_default DEFAULT SYSDATETIMEOFFSET(),
      updated_at datetimeoffset NOT NULL CONSTRAINT payments_updated_at_default DEFAULT SYSDATETIMEOFFSET(),
      CONSTRAINT payments_pkey PRIMARY KEY (id),
      CONSTRAINT payments_order_id_key UNIQUE (order_id),
      CONSTRAINT payments_amount_check CHECK (amount >= 0),
      CONSTRAINT payments_status_check CHECK (status IN ('AUTHORIZED', 'DECLINED', 'REFUNDED', 'VOIDED')),
      CONSTRAINT payments_refunded_amount_check CHECK (refunded_amount >= 0 AND refunded_amount <= amount)
    )`);
  await q.query('CREATE INDEX payments_customer ON payments (customer_id, created_at)');
}
