import type { CancellationReason, OrderLine } from '@app/contracts';
import type { Dialect, SqlSession } from '@app/persistence';
import type { OrderStatus, PaymentState, SagaState, StockState } from '../saga/order-saga';

/** An order as the saga's handlers read and write it (the columns of `orders`). */
export interface OrderRow {
  id: string;
  customerId: string;
  status: OrderStatus;
  cancellationReason: CancellationReason | null;
  paymentState: PaymentState;
  stockState: StockState;
  refundRequested: boolean;
  releaseRequested: boolean;
  total: number;
  currency: string;
  items: OrderLine[];
  /** Where the customer hears of the outcome (null: the order gave none). */
  email: string | null;
  correlationId: string;
  deadlineAt: Date;
  completedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

/** One line of an order's timeline: a message it saw or sent. */
export interface TimelineRow {
  orderId: string;
  type: string;
  source: string;
  messageId: string;
  note: string | null;
  occurredAt: Date;
}

export function sagaStateOf(o: OrderRow): SagaState {
  return {
    status: o.status,
    reason: o.cancellationReason,
    payment: o.paymentState,
    stock: o.stockState,
    refundRequested: o.refundRequested,
    releaseRequested: o.releaseRequested,
  };
}

export function withSagaState(o: OrderRow, s: SagaState): OrderRow {
  return {
    ...o,
    status: s.status,
    cancellationReason: s.reason,
    paymentState: s.payment,
    stockState: s.stock,
    refundRequested: s.refundRequested,
    releaseRequested: s.releaseRequested,
  };
}

const columns =
  'id, customer_id, status, cancellation_reason, payment_state, stock_state, refund_requested, release_requested, total, currency, items, email, correlation_id, deadline_at, completed_at, created_at, updated_at';

/**
 * The saga's statements: one to lock and load every order of a batch, one to write what the
 * batch decided (changed orders and their timeline lines). Both dialects side by side;
 * exported for the test that checks the SQL Server ones.
 */
export const ordersSql = {
  /** Locks in id order: every transaction that locks several orders does so in this one order. */
  lock(d: Dialect): string {
    return d === 'postgres'
      ? `SELECT ${columns} FROM orders WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE`
      : `SELECT ${columns} FROM orders WITH (UPDLOCK, ROWLOCK) WHERE id IN (SELECT value FROM OPENJSON(@0)) ORDER BY id`;
  },

  write(d: Dialect): string {
    if (d === 'postgres') {
      return `WITH changed AS (
          UPDATE orders o SET status = x.status, cancellation_reason = x.reason, payment_state = x.payment, stock_state = x.stock,
                 refund_requested = x.refund, release_requested = x.release, completed_at = x.completed_at, updated_at = x.updated_at
            FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::boolean[], $7::boolean[], $8::timestamptz[], $9::timestamptz[])
                 AS x(id, status, reason, payment, stock, refund, release, completed_at, updated_at)
           WHERE o.id = x.id RETURNING o.id)
        INSERT INTO order_timeline (order_id, type, source, message_id, note, occurred_at)
        SELECT * FROM unnest($10::uuid[], $11::text[], $12::text[], $13::text[], $14::text[], $15::timestamptz[])`;
    }
    return `UPDATE o SET status = x.status, cancellation_reason = x.reason, payment_state = x.payment, stock_state = x.stock,
             refund_requested = x.refund, release_requested = x.release, completed_at = x.completed_at, updated_at = x.updated_at
        FROM orders o JOIN OPENJSON(@0) WITH (id nvarchar(36), status nvarchar(20), reason nvarchar(30), payment nvarchar(20), stock nvarchar(20),
             refund bit, release bit, completed_at datetimeoffset, updated_at datetimeoffset) x ON o.id = x.id;

      INSERT INTO order_timeline (order_id, type, source, message_id, note, occurred_at)
      SELECT order_id, type, source, message_id, note, occurred_at FROM OPENJSON(@1)
        WITH (order_id nvarchar(36), type nvarchar(100), source nvarchar(50), message_id nvarchar(100), note nvarchar(300), occurred_at datetimeoffset)`;
  },
};

type Raw = Record<string, unknown>;
const date = (v: unknown) => (v instanceof Date ? v : new Date(String(v)));
const bool = (v: unknown) => v === true || v === 1 || v === '1' || v === 't';

export function orderOf(r: Raw): OrderRow {
  return {
    id: String(r.id),
    customerId: String(r.customer_id),
    status: r.status as OrderStatus,
    cancellationReason: (r.cancellation_reason as CancellationReason | null) ?? null,
    paymentState: r.payment_state as PaymentState,
    stockState: r.stock_state as StockState,
    refundRequested: bool(r.refund_requested),
    releaseRequested: bool(r.release_requested),
    total: Number(r.total),
    currency: String(r.currency),
    items: (typeof r.items === 'string' ? JSON.parse(r.items) : r.items) as OrderLine[],
    email: (r.email as string | null | undefined) ?? null,
    correlationId: String(r.correlation_id),
    deadlineAt: date(r.deadline_at),
    completedAt: r.completed_at === null || r.completed_at === undefined ? null : date(r.completed_at),
    createdAt: date(r.created_at),
    updatedAt: date(r.updated_at),
  };
}

export async function lockOrders(s: SqlSession, ids: readonly string[]): Promise<OrderRow[]> {
  if (ids.length === 0) return [];
  const rows = await s.query<Raw>(ordersSql.lock(s.dialect), [s.dialect === 'postgres' ? [...ids] : JSON.stringify(ids)], { prepare: true });
  return rows.map(orderOf);
}

/** Writes the orders a batch changed and the timeline lines it added, in one statement. */
export async function writeOrders(s: SqlSession, orders: readonly OrderRow[], timeline: readonly TimelineRow[]): Promise<void> {
  if (orders.length === 0 && timeline.length === 0) return;
  if (s.dialect === 'postgres') {
    await s.query(
      ordersSql.write('postgres'),
      [
        orders.map((o) => o.id),
        orders.map((o) => o.status),
        orders.map((o) => o.cancellationReason),
        orders.map((o) => o.paymentState),
        orders.map((o) => o.stockState),
        orders.map((o) => o.refundRequested),
        orders.map((o) => o.releaseRequested),
        orders.map((o) => o.completedAt),
        orders.map((o) => o.updatedAt),
        timeline.map((t) => t.orderId),
        timeline.map((t) => t.type),
        timeline.map((t) => t.source),
        timeline.map((t) => t.messageId),
        timeline.map((t) => t.note),
        timeline.map((t) => t.occurredAt),
      ],
      { prepare: true },
    );
    return;
  }
  await s.query(ordersSql.write('mssql'), [
    JSON.stringify(
      orders.map((o) => ({
        id: o.id,
        status: o.status,
        reason: o.cancellationReason,
        payment: o.paymentState,
        stock: o.stockState,
        refund: o.refundRequested,
        release: o.releaseRequested,
        completed_at: o.completedAt?.toISOString() ?? null,
        updated_at: o.updatedAt.toISOString(),
      })),
    ),
    JSON.stringify(
      timeline.map((t) => ({
        order_id: t.orderId,
        type: t.type,
        source: t.source,
        message_id: t.messageId,
        note: t.note,
        occurred_at: t.occurredAt.toISOString(),
      })),
    ),
  ]);
}
