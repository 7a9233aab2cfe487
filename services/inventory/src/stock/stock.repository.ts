import type { EntityManager } from 'typeorm';
import { dialectOf, type Dialect } from '@app/persistence';
import type { StockLevel } from '../reservations/reservation.decide';

/** The stock columns are 32-bit ints; what is available and reserved together must fit, or a release would overflow. */
export const MAX_STOCK = 2_147_483_647;

/**
 * Sets what is available for a SKU, creating it if new; what is reserved stays as it is. Null
 * when available + reserved would not fit MAX_STOCK (nothing is written then).
 */
export async function setAvailable(manager: EntityManager, sku: string, available: number): Promise<StockLevel | null> {
  const { sql, params } = setAvailableSql(dialectOf(manager), sku, available);
  const rows: StockLevel[] = await manager.query(sql, params);
  return rows[0] ?? null;
}

/**
 * Insert or update in one statement, answering the row. SQL Server's MERGE needs HOLDLOCK to be
 * atomic like ON CONFLICT: without it two MERGEs for a new SKU can both see no row and one
 * fails on the primary key.
 */
export function setAvailableSql(d: Dialect, sku: string, available: number): { sql: string; params: unknown[] } {
  if (d === 'mssql') {
    return {
      sql: `MERGE stock WITH (HOLDLOCK) AS s
     USING (VALUES (@0, @1)) AS v (sku, available) ON s.sku = v.sku
     WHEN MATCHED AND CAST(s.reserved AS bigint) + v.available <= ${MAX_STOCK} THEN UPDATE SET available = v.available, updated_at = SYSDATETIMEOFFSET()
     WHEN NOT MATCHED THEN INSERT (sku, available, reserved, updated_at) VALUES (v.sku, v.available, 0, SYSDATETIMEOFFSET())
     OUTPUT inserted.sku, inserted.available, inserted.reserved;`,
      params: [sku, available],
    };
  }
  return {
    sql: `INSERT INTO stock (sku, available, reserved, updated_at) VALUES ($1, $2, 0, now())
     ON CONFLICT (sku) DO UPDATE SET available = EXCLUDED.available, updated_at = now() WHERE stock.reserved::bigint + EXCLUDED.available <= ${MAX_STOCK}
     RETURNING sku, available, reserved`,
    params: [sku, available],
  };
}
