import { hash32, type Dialect, type SqlSession } from '@app/persistence';
import type { Reservation, ReservationStatus, StockLevel } from './reservation.decide';

/** A reservation as stored: its own id, for the order it belongs to. */
export interface ReservationRow extends Reservation {
  id: string;
  orderId: string;
}

/** The name of an order's lock (a PostgreSQL advisory lock, an SQL Server app lock). */
export function orderLockName(orderId: string): string {
  return `inventory:order:${orderId}`;
}

/**
 * Inventory's statements: one locks and loads a batch's orders, reservations and stock, one
 * writes what the batch decided. Locks, in every path, in one global order, so two batches (two
 * instances) wait for each other but never deadlock: the orders' locks (advisory, by key),
 * then their reservations, then the stock rows by SKU. The orders' locks make messages for one
 * order take turns even before it has a reservation row to lock (a ReleaseStock and a
 * PaymentAuthorized racing for an order not seen yet). Both dialects side by side; exported
 * for the test that checks the SQL Server ones.
 */
export const reservationsSql = {
  /**
   * The orders' locks, in key order. A statement of its own: a statement sees the rows
   * committed before it began, so a load that waited for a lock inside itself would miss the
   * reservation its predecessor had just inserted.
   */
  lockOrders(d: Dialect): string {
    return d === 'postgres'
      ? 'SELECT count(pg_advisory_xact_lock(k)) AS n FROM (SELECT k FROM unnest($1::int[]) AS k ORDER BY k) AS keys'
      : `DECLARE @lock nvarchar(255), @r int;

      DECLARE locks CURSOR LOCAL FAST_FORWARD FOR SELECT value FROM OPENJSON(@0) ORDER BY value;

      OPEN locks;

      FETCH NEXT FROM locks INTO @lock;

      WHILE @@FETCH_STATUS = 0 BEGIN EXEC @r = sp_getapplock @Resource = @lock, @LockMode = 'Exclusive', @LockOwner = 'Transaction', @LockTimeout = 30000; IF @r < 0 THROW 51000, 'timed out waiting for an order lock', 1; FETCH NEXT FROM locks INTO @lock; END;

      CLOSE locks`;
  },

  lock(d: Dialect): string {
    if (d === 'postgres') {
      return `WITH r AS (
          SELECT id, order_id, status, items, shortages FROM reservations
           WHERE order_id = ANY($1::uuid[]) ORDER BY order_id FOR UPDATE),
        s AS (
          SELECT sku, available, reserved FROM stock
           WHERE sku = ANY($2::text[] || ARRAY(SELECT line->>'sku' FROM r, jsonb_array_elements(r.items) AS line WHERE r.status = 'RESERVED'))
           ORDER BY sku FOR UPDATE)
        SELECT 'r' AS k, to_jsonb(r) AS v FROM r UNION ALL SELECT 's', to_jsonb(s) FROM s`;
    }
    return `DECLARE @res TABLE (id nvarchar(36), order_id nvarchar(36), status nvarchar(20), items nvarchar(max), shortages nvarchar(max));

      INSERT INTO @res SELECT id, order_id, status, items, shortages FROM reservations WITH (UPDLOCK, ROWLOCK) WHERE order_id IN (SELECT value FROM OPENJSON(@0)) ORDER BY order_id;

      SELECT 'r' AS k, (SELECT r.* FOR JSON PATH, WITHOUT_ARRAY_WRAPPER) AS v FROM @res r
      UNION ALL
      SELECT 's', (SELECT s.sku, s.available, s.reserved FOR JSON PATH, WITHOUT_ARRAY_WRAPPER) FROM stock s WITH (UPDLOCK, ROWLOCK)
       WHERE s.sku IN (SELECT value FROM OPENJSON(@1) UNION SELECT JSON_VALUE(line.value, '$.sku') FROM @res r CROSS APPLY OPENJSON(r.items) AS line WHERE r.status = 'RESERVED')`;
  },

  write(d: Dialect): string {
    if (d === 'postgres') {
      return `WITH res AS (
          INSERT INTO reservations (id, order_id, status, items, shortages, created_at, updated_at)
          SELECT x.id, x.order_id, x.status, x.items, x.shortages, $8, $8
            FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::jsonb[], $5::jsonb[]) AS x(id, order_id, status, items, shortages)
          ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, items = EXCLUDED.items, shortages = EXCLUDED.shortages, updated_at = EXCLUDED.updated_at)
        UPDATE stock s SET available = y.available, reserved = y.reserved, updated_at = $8
          FROM unnest($6::text[], $7::int[], $9::int[]) AS y(sku, available, reserved)
         WHERE s.sku = y.sku`;
    }
    return `MERGE reservations WITH (HOLDLOCK) AS r
      USING OPENJSON(@0) WITH (id nvarchar(36), order_id nvarchar(36), status nvarchar(20), items nvarchar(max), shortages nvarchar(max)) AS x ON r.id = x.id
      WHEN MATCHED THEN UPDATE SET status = x.status, items = x.items, shortages = x.shortages, updated_at = @2
      WHEN NOT MATCHED THEN INSERT (id, order_id, status, items, shortages, created_at, updated_at) VALUES (x.id, x.order_id, x.status, x.items, x.shortages, @2, @2);

      UPDATE s SET available = y.available, reserved = y.reserved, updated_at = @2
        FROM stock s JOIN OPENJSON(@1) WITH (sku nvarchar(64), available int, reserved int) y ON s.sku = y.sku`;
  },
};

type Raw = Record<string, unknown>;
const json = <T>(v: unknown): T => (typeof v === 'string' ? (JSON.parse(v) as T) : (v as T));

export async function lockReservationsAndStock(
  s: SqlSession,
  orderIds: readonly string[],
  skus: readonly string[],
): Promise<{ reservations: Map<string, ReservationRow>; stock: Map<string, StockLevel> }> {
  const pg = s.dialect === 'postgres';
  const locks = orderIds.map((id) => (pg ? hash32(orderLockName(id)) : orderLockName(id)));
  await s.query(reservationsSql.lockOrders(s.dialect), [pg ? locks : JSON.stringify(locks)], { prepare: true });
  const rows = await s.query<{ k: string; v: Raw | string }>(
    reservationsSql.lock(s.dialect),
    pg ? [[...orderIds], [...skus]] : [JSON.stringify(orderIds), JSON.stringify(skus)],
    { prepare: true },
  );
  const reservations = new Map<string, ReservationRow>();
  const stock = new Map<string, StockLevel>();
  for (const { k, v } of rows) {
    const r = json<Raw>(v);
    if (k === 'r') {
      reservations.set(String(r.order_id), {
        id: String(r.id),
        orderId: String(r.order_id),
        status: r.status as ReservationStatus,
        items: json(r.items),
        shortages: r.shortages === null || r.shortages === undefined ? null : json(r.shortages),
      });
    } else {
      stock.set(String(r.sku), { sku: String(r.sku), available: Number(r.available), reserved: Number(r.reserved) });
    }
  }
  return { reservations, stock };
}

export async function writeReservations(s: SqlSession, reservations: readonly ReservationRow[], stock: readonly StockLevel[], now: Date): Promise<void> {
  if (reservations.length === 0 && stock.length === 0) return;
  if (s.dialect === 'postgres') {
    await s.query(
      reservationsSql.write('postgres'),
      [
        reservations.map((r) => r.id),
        reservations.map((r) => r.orderId),
        reservations.map((r) => r.status),
        reservations.map((r) => JSON.stringify(r.items)),
        reservations.map((r) => (r.shortages === null ? null : JSON.stringify(r.shortages))),
        stock.map((l) => l.sku),
        stock.map((l) => l.available),
        now,
        stock.map((l) => l.reserved),
      ],
      { prepare: true },
    );
    return;
  }
  await s.query(reservationsSql.write('mssql'), [
    JSON.stringify(
      reservations.map((r) => ({
        id: r.id,
        order_id: r.orderId,
        status: r.status,
        items: JSON.stringify(r.items),
        shortages: r.shortages === null ? null : JSON.stringify(r.shortages),
      })),
    ),
    JSON.stringify(stock),
    now,
  ]);
}
