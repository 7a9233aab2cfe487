import type { CancellationReason } from '@app/contracts';
import type { Dialect, SqlSession } from '@app/persistence';
import type { OrderFact, OrderFactStatus } from './order-facts.projection';

/**
 * Analytics' projection statements: one locks and loads the facts of a batch's orders (in id
 * order), one writes the folded facts and adds the batch's counts per event type. Both
 * dialects side by side; exported for the test that checks the SQL Server ones.
 */
export const orderFactsSql = {
  lock(d: Dialect): string {
    return d === 'postgres'
      ? `SELECT order_id, customer_id, status, total, currency, cancellation_reason, placed_at, completed_at FROM order_facts
          WHERE order_id = ANY($1::uuid[]) ORDER BY order_id FOR UPDATE`
      : `SELECT order_id, customer_id, status, total, currency, cancellation_reason, placed_at, completed_at FROM order_facts WITH (UPDLOCK, ROWLOCK)
          WHERE order_id IN (SELECT value FROM OPENJSON(@0)) ORDER BY order_id`;
  },

  write(d: Dialect): string {
    if (d === 'postgres') {
      return `WITH facts AS (
          INSERT INTO order_facts (order_id, customer_id, status, total, currency, cancellation_reason, placed_at, completed_at, updated_at)
          SELECT x.*, $9 FROM unnest($1::uuid[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::timestamptz[], $8::timestamptz[])
                 AS x(order_id, customer_id, status, total, currency, cancellation_reason, placed_at, completed_at)
          ON CONFLICT (order_id) DO UPDATE SET customer_id = EXCLUDED.customer_id, status = EXCLUDED.status, total = EXCLUDED.total, currency = EXCLUDED.currency,
                 cancellation_reason = EXCLUDED.cancellation_reason, placed_at = EXCLUDED.placed_at, completed_at = EXCLUDED.completed_at, updated_at = EXCLUDED.updated_at)
        INSERT INTO event_counts (type, count, last_at)
        SELECT * FROM unnest($10::text[], $11::bigint[], $12::timestamptz[]) ORDER BY 1
        ON CONFLICT (type) DO UPDATE SET count = event_counts.count + EXCLUDED.count, last_at = GREATEST(event_counts.last_at, EXCLUDED.last_at)`;
    }
    // CASE for GREATEST (SQL Server has it only from 2022, and it does not ignore NULLs).
    return `MERGE order_facts WITH (HOLDLOCK) AS f
      USING OPENJSON(@0) WITH (order_id nvarchar(36), customer_id nvarchar(64), status nvarchar(20), total bigint, currency nvarchar(3),
            cancellation_reason nvarchar(30), placed_at datetimeoffset, completed_at datetimeoffset) AS x ON f.order_id = x.order_id
      WHEN MATCHED THEN UPDATE SET customer_id = x.customer_id, status = x.status, total = x.total, currency = x.currency,
            cancellation_reason = x.cancellation_reason, placed_at = x.placed_at, completed_at = x.completed_at, updated_at = @2
      WHEN NOT MATCHED THEN INSERT (order_id, customer_id, status, total, currency, cancellation_reason, placed_at, completed_at, updated_at)
            VALUES (x.order_id, x.customer_id, x.status, x.total, x.currency, x.cancellation_reason, x.placed_at, x.completed_at, @2);

      MERGE event_counts WITH (HOLDLOCK) AS c
      USING OPENJSON(@1) WITH (type nvarchar(100), count bigint, last_at datetimeoffset) AS e ON c.type = e.type
      WHEN MATCHED THEN UPDATE SET count = c.count + e.count, last_at = CASE WHEN c.last_at IS NULL OR e.last_at > c.last_at THEN e.last_at ELSE c.last_at END
      WHEN NOT MATCHED THEN INSERT (type, count, last_at) VALUES (e.type, e.count, e.last_at);`;
  },
};

type Raw = Record<string, unknown>;
const iso = (v: unknown) => (v === null || v === undefined ? null : (v instanceof Date ? v : new Date(String(v))).toISOString());

export async function lockOrderFacts(s: SqlSession, orderIds: readonly string[]): Promise<Map<string, OrderFact>> {
  if (orderIds.length === 0) return new Map();
  const rows = await s.query<Raw>(orderFactsSql.lock(s.dialect), [s.dialect === 'postgres' ? [...orderIds] : JSON.stringify(orderIds)], { prepare: true });
  return new Map(
    rows.map((r) => [
      String(r.order_id),
      {
        orderId: String(r.order_id),
        customerId: (r.customer_id as string | null) ?? null,
        status: r.status as OrderFactStatus,
        total: r.total === null || r.total === undefined ? null : Number(r.total),
        currency: (r.currency as string | null) ?? null,
        cancellationReason: (r.cancellation_reason as CancellationReason | null) ?? null,
        placedAt: iso(r.placed_at),
        completedAt: iso(r.completed_at),
      },
    ]),
  );
}

export interface EventCount {
  type: string;
  count: number;
  lastAt: Date;
}

export async function writeOrderFacts(s: SqlSession, facts: readonly OrderFact[], counts: readonly EventCount[], now: Date): Promise<void> {
  if (facts.length === 0 && counts.length === 0) return;
  const date = (v: string | null) => (v === null ? null : new Date(v));
  if (s.dialect === 'postgres') {
    await s.query(
      orderFactsSql.write('postgres'),
      [
        facts.map((f) => f.orderId),
        facts.map((f) => f.customerId),
        facts.map((f) => f.status),
        facts.map((f) => f.total),
        facts.map((f) => f.currency),
        facts.map((f) => f.cancellationReason),
        facts.map((f) => date(f.placedAt)),
        facts.map((f) => date(f.completedAt)),
        now,
        counts.map((c) => c.type),
        counts.map((c) => c.count),
        counts.map((c) => c.lastAt),
      ],
      { prepare: true },
    );
    return;
  }
  await s.query(orderFactsSql.write('mssql'), [
    JSON.stringify(
      facts.map((f) => ({
        order_id: f.orderId,
        customer_id: f.customerId,
        status: f.status,
        total: f.total,
        currency: f.currency,
        cancellation_reason: f.cancellationReason,
        placed_at: f.placedAt,
        completed_at: f.completedAt,
      })),
    ),
    JSON.stringify(counts.map((c) => ({ type: c.type, count: c.count, last_at: c.lastAt.toISOString() }))),
    now,
  ]);
}
