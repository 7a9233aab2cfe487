import type { MigrationInterface, QueryRunner } from 'typeorm';
import { dialectOf } from '@app/persistence';

export class OrderTables1763769600001 implements MigrationInterface {
  name = 'OrderTables1763769600001';

  async up(q: QueryRunner): Promise<void> {
    if (dialectOf(q) === 'mssql') return upSqlServer(q);
    await q.query(`
      CREATE TABLE products (
        sku varchar(64) PRIMARY KEY,
        name varchar(200) NOT NULL,
        unit_price bigint NOT NULL CHECK (unit_price >= 0),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE orders (
        id uuid PRIMARY KEY,
        customer_id varchar(64) NOT NULL,
        status varchar(20) NOT NULL,
        cancellation_reason varchar(30) NULL,
        payment_state varchar(20) NOT NULL,
        stock_state varchar(20) NOT NULL,
        refund_requested boolean NOT NULL DEFAULT false,
        release_requested boolean NOT NULL DEFAULT false,
        total bigint NOT NULL,
        currency varchar(3) NOT NULL,
        items jsonb NOT NULL,
        correlation_id varchar(200) NOT NULL,
        idempotency_key varchar(200) NULL UNIQUE,
        request_hash varchar(64) NULL,
        deadline_at timestamptz NOT NULL,
        completed_at timestamptz NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query('CREATE INDEX orders_status_deadline ON orders (status, deadline_at)');
    await q.query('CREATE INDEX orders_customer ON orders (customer_id, created_at)');
    await q.query(`
      CREATE TABLE order_timeline (
        id bigserial PRIMARY KEY,
        order_id uuid NOT NULL REFERENCES orders (id),
        type varchar(100) NOT NULL,
        source varchar(50) NOT NULL,
        message_id varchar(100) NOT NULL,
        note varchar(300) NULL,
        occurred_at timestamptz NOT NULL
      )`);
    await q.query('CREATE INDEX order_timeline_order ON order_timeline (order_id, id)');
  }

  /** The same statements on both databases. */
  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE order_timeline');
    await q.query('DROP TABLE orders');
    await q.query('DROP TABLE products');
  }
}

/**
 * The same tables on SQL Server. Constraints carry PostgreSQL's default names (`_pkey`, `_key`,
 * `_check`, `_fkey`) so that errors name the same constraint on both databases. Keys compared
 * with what a client typed (SKU, customer, Idempotency-Key) get a binary collation: SQL Server's
 * default collation ignores case, PostgreSQL's does not. UUIDs are nvarchar(36), as the entity
 * says; the idempotency key is unique only when given (a filtered index: a UNIQUE constraint
 * would let just one order without a key exist).
 */
async function upSqlServer(q: QueryRunner): Promise<void> {
  await q.query(`
    CREATE TABLE products (
      sku nvarchar(64) COLLATE Latin1_General_100_BIN2 NOT NULL,
      name nvarchar(200) NOT NULL,
      unit_price bigint NOT NULL,
      updated_at datetimeoffset NOT NULL CONSTRAINT products_updated_at_default DEFAULT SYSDATETIMEOFFSET(),
      CONSTRAINT products_pkey PRIMARY KEY (sku),
      CONSTRAINT products_unit_price_check CHECK (unit_price >= 0)
    )`);
  await q.query(`
    CREATE TABLE orders (
      id nvarchar(36) NOT NULL,
      customer_id nvarchar(64) COLLATE Latin1_General_100_BIN2 NOT NULL,
      status nvarchar(20) NOT NULL,
      cancellation_reason nvarchar(30) NULL,
      payment_state nvarchar(20) NOT NULL,
      stock_state nvarchar(20) NOT NULL,
      refund_requested bit NOT NULL CONSTRAINT orders_refund_requested_default DEFAULT 0,
      release_requested bit NOT NULL CONSTRAINT orders_release_requested_default DEFAULT 0,
      total bigint NOT NULL,
      currency nvarchar(3) NOT NULL,
      items nvarchar(max) NOT NULL,
      correlation_id nvarchar(200) NOT NULL,
      idempotency_key nvarchar(200) COLLATE Latin1_General_100_BIN2 NULL,
      request_hash nvarchar(64) NULL,
      deadline_at datetimeoffset NOT NULL,
      completed_at datetimeoffset NULL,
      created_at datetimeoffset NOT NULL CONSTRAINT orders_created_at_default DEFAULT SYSDATETIMEOFFSET(),
      updated_at datetimeoffset NOT NULL CONSTRAINT orders_updated_at_default DEFAULT SYSDATETIMEOFFSET(),
      CONSTRAINT orders_pkey PRIMARY KEY (id),
      CONSTRAINT orders_items_check CHECK (ISJSON(items) = 1)
    )`);
  await q.query('CREATE UNIQUE INDEX orders_idempotency_key_key ON orders (idempotency_key) WHERE idempotency_key IS NOT NULL');
  await q.query('CREATE INDEX orders_status_deadline ON orders (status, deadline_at)');
  await q.query('CREATE INDEX orders_customer ON orders (customer_id, created_at)');
  await q.query(`
    CREATE TABLE order_timeline (
      id bigint IDENTITY(1,1) NOT NULL,
      order_id nvarchar(36) NOT NULL,
      type nvarchar(100) NOT NULL,
      source nvarchar(50) NOT NULL,
      message_id nvarchar(100) NOT NULL,
      note nvarchar(300) NULL,
      occurred_at datetimeoffset NOT NULL,
      CONSTRAINT order_timeline_pkey PRIMARY KEY (id),
      CONSTRAINT order_timeline_order_id_fkey FOREIGN KEY (order_id) REFERENCES orders (id)
    )`);
  await q.query('CREATE INDEX order_timeline_order ON order_timeline (order_id, id)');
}
