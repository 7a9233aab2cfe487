import type { MigrationInterface, QueryRunner } from 'typeorm';
import { dialectOf } from '@app/persistence';

export class InventoryTables1763769600003 implements MigrationInterface {
  name = 'InventoryTables1763769600003';

  async up(q: QueryRunner): Promise<void> {
    if (dialectOf(q) === 'mssql') return upSqlServer(q);
    // The CHECKs are the last line against overselling: a bug that would take stock below
    // zero fails its transaction instead of committing.
    await q.query(`
      CREATE TABLE stock (
        sku varchar(64) PRIMARY KEY,
        available integer NOT NULL CHECK (available >= 0),
        reserved integer NOT NULL DEFAULT 0 CHECK (reserved >= 0),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    // One reservation per order (UNIQUE): two messages racing for an order that has none yet
    // cannot both insert one; the loser's transaction fails and is retried against the winner's row.
    await q.query(`
      CREATE TABLE reservations (
        id uuid PRIMARY KEY,
        order_id uuid NOT NULL UNIQUE,
        status varchar(20) NOT NULL CHECK (status IN ('RESERVED', 'RELEASED', 'FAILED', 'VOIDED')),
        items jsonb NOT NULL,
        shortages jsonb NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
  }

  /** The same statements on both databases. */
  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE reservations');
    await q.query('DROP TABLE stock');
  }
}

/**
 * The same tables on SQL Server (constraint names as PostgreSQL gives them; SKUs case-sensitive
 * as on PostgreSQL; UUIDs as nvarchar(36); JSON as nvarchar(max) that must be JSON).
 */
async function upSqlServer(q: QueryRunner): Promise<void> {
  await q.query(`
    CREATE TABLE stock (
      sku nvarchar(64) COLLATE Latin1_General_100_BIN2 NOT NULL,
      available int NOT NULL,
      reserved int NOT NULL CONSTRAINT stock_reserved_default DEFAULT 0,
      updated_at datetimeoffset NOT NULL CONSTRAINT stock_updated_at_default DEFAULT SYSDATETIMEOFFSET(),
      CONSTRAINT stock_pkey PRIMARY KEY (sku),
      CONSTRAINT stock_available_check CHECK (available >= 0),
      CONSTRAINT stock_reserved_check CHECK (reserved >= 0)
    )`);
  await q.query(`
    CREATE TABLE reservations (
      id nvarchar(36) NOT NULL,
      order_id nvarchar(36) NOT NULL,
      status nvarchar(20) NOT NULL,
      items nvarchar(max) NOT NULL,
      shortages nvarchar(max) NULL,
      created_at datetimeoffset NOT NULL CONSTRAINT reservations_created_at_default DEFAULT SYSDATETIMEOFFSET(),
      updated_at datetimeoffset NOT NULL CONSTRAINT reservations_updated_at_default DEFAULT SYSDATETIMEOFFSET(),
      CONSTRAINT reservations_pkey PRIMARY KEY (id),
      CONSTRAINT reservations_order_id_key UNIQUE (order_id),
      CONSTRAINT reservations_status_check CHECK (status IN ('RESERVED', 'RELEASED', 'FAILED', 'VOIDED')),
      CONSTRAINT reservations_items_check CHECK (ISJSON(items) = 1),
      CONSTRAINT reservations_shortages_check CHECK (shortages IS NULL OR ISJSON(shortages) = 1)
    )`);
}
