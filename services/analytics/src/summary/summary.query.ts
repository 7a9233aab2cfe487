import type { EntityManager } from 'typeorm';
import { CURRENCY, toMajor } from '@app/contracts';
import { dialectOf, type Dialect } from '@app/persistence';
import type { OrderFactStatus } from './order-facts.projection';

const statuses: readonly OrderFactStatus[] = ['PENDING', 'CONFIRMED', 'CANCELLED'];

export interface Summary {
  ordersByStatus: Record<string, number>;
  revenue: { amount: number; currency: string };
  cancellationReasons: Record<string, number>;
  sagaDurationMs: { count: number; p50: number | null; p95: number | null; p99: number | null };
  eventsByType: Record<string, number>;
  generatedAt: string;
}

/**
 * The summary, in SQL so it costs the same for ten orders or ten million. Run it in one
 * transaction (`summaryIsolation`): on PostgreSQL one snapshot, so the figures agree.
 */
export async function readSummary(manager: EntityManager, now: Date): Promise<Summary> {
  const d = dialectOf(manager);
  const run = <T>({ sql, params }: Statement): Promise<T[]> => manager.query(sql, params);
  const byStatus = await run<{ status: string; n: number | string }>(summarySql.byStatus(d));
  const [revenue] = await run<{ minor: number | string }>(summarySql.revenue(d, CURRENCY));
  const reasons = await run<{ reason: string; n: number | string }>(summarySql.reasons(d));
  const [durations] = await run<{ n: number | string; p50: number | null; p95: number | null; p99: number | null }>(summarySql.durations(d));
  const events = await run<{ type: string; count: number | string }>(summarySql.events(d));

  const ms = (v: number | string | null) => (v === null ? null : Math.round(Number(v)));
  return {
    ordersByStatus: {
      ...Object.fromEntries(statuses.map((s) => [s, 0])),
      ...Object.fromEntries(byStatus.map((r) => [r.status, Number(r.n)])),
    },
    revenue: { amount: toMajor(Number(revenue?.minor ?? 0)), currency: CURRENCY },
    cancellationReasons: Object.fromEntries(reasons.map((r) => [r.reason, Number(r.n)])),
    sagaDurationMs: { count: Number(durations?.n ?? 0), p50: ms(durations?.p50 ?? null), p95: ms(durations?.p95 ?? null), p99: ms(durations?.p99 ?? null) },
    eventsByType: Object.fromEntries(events.map((r) => [r.type, Number(r.count)])),
    generatedAt: now.toISOString(),
  };
}

interface Statement {
  sql: string;
  params: unknown[];
}

/**
 * The summary's transaction. PostgreSQL's REPEATABLE READ reads one snapshot for all five
 * statements and blocks no one, so the figures agree. SQL Server has no such level here: its
 * REPEATABLE READ and SERIALIZABLE hold shared locks to the end, which blocks the projection and
 * can deadlock with it (the summary reads the status index then the rows; a projection locks a
 * row then its index key); SNAPSHOT would do, but needs ALLOW_SNAPSHOT_ISOLATION on the database
 * and is not a level TypeORM offers. So READ COMMITTED: each figure is one statement's (one
 * snapshot where the database has READ_COMMITTED_SNAPSHOT on, as Azure SQL has by default), and
 * two figures may differ by the events projected between their statements.
 */
export function summaryIsolation(d: Dialect): 'REPEATABLE READ' | 'READ COMMITTED' {
  return d === 'mssql' ? 'READ COMMITTED' : 'REPEATABLE READ';
}

/** The summary's statements, both spellings side by side; the same text where both agree. */
export const summarySql = {
  byStatus: (_d: Dialect): Statement => ({
    sql: 'SELECT status, count(*) AS n FROM order_facts GROUP BY status ORDER BY status',
    params: [],
  }),

  // Revenue is what stays sold: confirmed orders, in the one currency orders are placed in.
  // SQL Server's SUM of a bigint is a bigint already (the driver answers it as a string).
  revenue: (d: Dialect, currency: string): Statement =>
    d === 'mssql'
      ? { sql: "SELECT COALESCE(SUM(total), 0) AS minor FROM order_facts WHERE status = 'CONFIRMED' AND currency = @0", params: [currency] }
      : { sql: "SELECT COALESCE(sum(total), 0)::bigint AS minor FROM order_facts WHERE status = 'CONFIRMED' AND currency = $1", params: [currency] },

  reasons: (_d: Dialect): Statement => ({
    sql: "SELECT cancellation_reason AS reason, count(*) AS n FROM order_facts WHERE status = 'CANCELLED' AND cancellation_reason IS NOT NULL GROUP BY cancellation_reason ORDER BY cancellation_reason",
    params: [],
  }),

  // From placing to the outcome, over orders that have one and whose placing time is known.
  // SQL Server's PERCENTILE_CONT is a window function only: every row carries the same answer,
  // TOP 1 keeps one; with no such order it answers no row (PostgreSQL: one row, n = 0), which
  // the caller reads alike.
  durations: (d: Dialect): Statement =>
    d === 'mssql'
      ? {
          sql: `
    SELECT TOP 1 COUNT(*) OVER () AS n,
           PERCENTILE_CONT(0.50) WITHIN GROUP (ORDER BY ms) OVER () AS p50,
           PERCENTILE_CONT(0.95) WITHIN GROUP (ORDER BY ms) OVER () AS p95,
           PERCENTILE_CONT(0.99) WITHIN GROUP (ORDER BY ms) OVER () AS p99
      FROM (SELECT CAST(DATEDIFF_BIG(millisecond, placed_at, completed_at) AS float) AS ms
              FROM order_facts
             WHERE status IN ('CONFIRMED', 'CANCELLED') AND placed_at IS NOT NULL AND completed_at IS NOT NULL) AS d`,
          params: [],
        }
      : {
          sql: `
    SELECT count(*) AS n,
           percentile_cont(0.50) WITHIN GROUP (ORDER BY ms) AS p50,
           percentile_cont(0.95) WITHIN GROUP (ORDER BY ms) AS p95,
           percentile_cont(0.99) WITHIN GROUP (ORDER BY ms) AS p99
      FROM (SELECT (EXTRACT(EPOCH FROM (completed_at - placed_at)) * 1000)::float8 AS ms
              FROM order_facts
             WHERE status IN ('CONFIRMED', 'CANCELLED') AND placed_at IS NOT NULL AND completed_at IS NOT NULL) AS d`,
          params: [],
        },

  events: (_d: Dialect): Statement => ({ sql: 'SELECT type, count FROM event_counts ORDER BY type', params: [] }),
};
