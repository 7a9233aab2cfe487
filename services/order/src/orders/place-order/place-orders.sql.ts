import type { Dialect, SqlSession } from '@app/persistence';

/** One order of a group commit, priced and with its OrderPlaced envelope serialized. */
export interface NewOrder {
  id: string;
  customerId: string;
  total: number;
  currency: string;
  items: string;
  correlationId: string;
  idempotencyKey: string | null;
  requestHash: string | null;
  deadlineAt: Date;
  createdAt: Date;
  messageId: string;
  envelope: string;
  traceParent: string | null;
  email: string | null;
}

/**
 * Every order of a group commit in one statement: the orders, their first timeline line and
 * their OrderPlaced outbox rows. It inserts nothing if a price it was given is no longer the
 * product's (another instance changed it: `stale` > 0, the batch is priced again), and skips an
 * order whose Idempotency-Key is taken (the caller answers from the order that has it). Answers
 * rows (k, v, w): ('stale', n), ('order', id), ('outbox', row id, message id).
 */
export const placeOrdersSql = {
  insert(d: Dialect): string {
    if (d === 'postgres') {
      return `WITH fresh AS (
          SELECT count(*) AS stale FROM products p JOIN unnest($1::text[], $2::text[]) AS c(sku, version) ON p.sku = c.sku
           WHERE p.updated_at::text <> c.version),
        o AS (
          INSERT INTO orders (id, customer_id, status, cancellation_reason, payment_state, stock_state, refund_requested, release_requested,
                              total, currency, items, correlation_id, idempotency_key, request_hash, deadline_at, completed_at, created_at, updated_at,
                              trace_parent, email)
          SELECT x.id, x.customer_id, 'PENDING', NULL, 'UNKNOWN', 'UNKNOWN', false, false,
                 x.total, x.currency, x.items, x.correlation_id, x.idempotency_key, x.request_hash, x.deadline_at, NULL, x.created_at, x.created_at,
                 x.trace_parent, x.email
            FROM unnest($3::uuid[], $4::text[], $5::bigint[], $6::text[], $7::jsonb[], $8::text[], $9::text[], $10::text[], $11::timestamptz[], $12::timestamptz[],
                        $15::text[], $16::text[])
                 AS x(id, customer_id, total, currency, items, correlation_id, idempotency_key, request_hash, deadline_at, created_at, trace_parent, email)
           WHERE (SELECT stale FROM fresh) = 0
          ON CONFLICT (idempotency_key) DO NOTHING
          RETURNING id),
        t AS (
          INSERT INTO order_timeline (order_id, type, source, message_id, note, occurred_at)
          SELECT x.id, 'OrderPlaced', 'order', x.message_id, NULL, x.created_at
            FROM unnest($3::uuid[], $13::text[], $12::timestamptz[]) AS x(id, message_id, created_at) WHERE x.id IN (SELECT id FROM o)),
        b AS (
          INSERT INTO outbox_messages (message_id, type, routing_key, msg_key, envelope)
          SELECT x.message_id, 'OrderPlaced', 'order.order-placed', x.id::text, x.envelope
            FROM unnest($3::uuid[], $13::text[], $14::jsonb[]) AS x(id, message_id, envelope) WHERE x.id IN (SELECT id FROM o)
          RETURNING id, message_id)
        SELECT 'stale' AS k, stale::text AS v, NULL AS w FROM fresh
        UNION ALL SELECT 'order', id::text, NULL FROM o
        UNION ALL SELECT 'outbox', id::text, message_id FROM b`;
    }
    return `DECLARE @stale int = (SELECT count(*) FROM products p JOIN OPENJSON(@0) WITH (sku nvarchar(64), version nvarchar(40)) c ON p.sku = c.sku
                                 WHERE CONVERT(nvarchar(40), p.updated_at, 127) <> c.version);

      DECLARE @o TABLE (id nvarchar(36));

      DECLARE @b TABLE (id bigint, message_id nvarchar(100));

      INSERT INTO orders (id, customer_id, status, cancellation_reason, payment_state, stock_state, refund_requested, release_requested,
                          total, currency, items, correlation_id, idempotency_key, request_hash, deadline_at, completed_at, created_at, updated_at,
                          trace_parent, email)
      OUTPUT inserted.id INTO @o
      SELECT x.id, x.customer_id, 'PENDING', NULL, 'UNKNOWN', 'UNKNOWN', 0, 0, x.total, x.currency, x.items, x.correlation_id, x.idempotency_key,
             x.request_hash, x.deadline_at, NULL, x.created_at, x.created_at, x.trace_parent, x.email
        FROM OPENJSON(@1) WITH (id nvarchar(36), customer_id nvarchar(64), total bigint, currency nvarchar(3), items nvarchar(max),
             correlation_id nvarchar(200), idempotency_key nvarchar(200), request_hash nvarchar(64), deadline_at datetimeoffset, created_at datetimeoffset,
             trace_parent varchar(55), email nvarchar(254)) x
       WHERE @stale = 0 AND (x.idempotency_key IS NULL OR NOT EXISTS (SELECT 1 FROM orders e WITH (UPDLOCK, HOLDLOCK) WHERE e.idempotency_key = x.idempotency_key));

      INSERT INTO order_timeline (order_id, type, source, message_id, note, occurred_at)
      SELECT x.id, 'OrderPlaced', 'order', x.message_id, NULL, x.created_at
        FROM OPENJSON(@1) WITH (id nvarchar(36), message_id nvarchar(100), created_at datetimeoffset) x WHERE x.id IN (SELECT id FROM @o);

      INSERT INTO outbox_messages (message_id, type, routing_key, msg_key, envelope) OUTPUT inserted.id, inserted.message_id INTO @b
      SELECT x.message_id, 'OrderPlaced', 'order.order-placed', x.id, x.envelope
        FROM OPENJSON(@1) WITH (id nvarchar(36), message_id nvarchar(100), envelope nvarchar(max)) x WHERE x.id IN (SELECT id FROM @o);

      SELECT 'stale' AS k, CAST(@stale AS nvarchar(20)) AS v, NULL AS w UNION ALL SELECT 'order', id, NULL FROM @o UNION ALL SELECT 'outbox', CAST(id AS nvarchar(20)), message_id FROM @b`;
  },

  /** The orders that hold these Idempotency-Keys. */
  byKeys(d: Dialect): string {
    return d === 'postgres'
      ? 'SELECT id, status, total, currency, request_hash, idempotency_key FROM orders WHERE idempotency_key = ANY($1::text[])'
      : 'SELECT id, status, total, currency, request_hash, idempotency_key FROM orders WHERE idempotency_key IN (SELECT value FROM OPENJSON(@0))';
  },
};

export interface PlacedRows {
  stale: number;
  orders: Set<string>;
  outbox: Map<string, number>;
}

export async function insertOrders(s: SqlSession, prices: Array<{ sku: string; version: string }>, orders: readonly NewOrder[]): Promise<PlacedRows> {
  const rows =
    s.dialect === 'postgres'
      ? await s.query<{ k: string; v: string; w: string | null }>(
          placeOrdersSql.insert('postgres'),
          [
            prices.map((p) => p.sku),
            prices.map((p) => p.version),
            orders.map((o) => o.id),
            orders.map((o) => o.customerId),
            orders.map((o) => o.total),
            orders.map((o) => o.currency),
            orders.map((o) => o.items),
            orders.map((o) => o.correlationId),
            orders.map((o) => o.idempotencyKey),
            orders.map((o) => o.requestHash),
            orders.map((o) => o.deadlineAt),
            orders.map((o) => o.createdAt),
            orders.map((o) => o.messageId),
            orders.map((o) => o.envelope),
            orders.map((o) => o.traceParent),
            orders.map((o) => o.email),
          ],
          { prepare: true },
        )
      : await s.query<{ k: string; v: string; w: string | null }>(placeOrdersSql.insert('mssql'), [
          JSON.stringify(prices),
          JSON.stringify(
            orders.map((o) => ({
              id: o.id,
              customer_id: o.customerId,
              total: o.total,
              currency: o.currency,
              items: o.items,
              correlation_id: o.correlationId,
              idempotency_key: o.idempotencyKey,
              request_hash: o.requestHash,
              deadline_at: o.deadlineAt.toISOString(),
              created_at: o.createdAt.toISOString(),
              message_id: o.messageId,
              envelope: o.envelope,
              trace_parent: o.traceParent,
              email: o.email,
            })),
          ),
        ]);
  const placed: PlacedRows = { stale: 0, orders: new Set(), outbox: new Map() };
  for (const r of rows) {
    if (r.k === 'stale') placed.stale = Number(r.v);
    else if (r.k === 'order') placed.orders.add(r.v);
    else placed.outbox.set(r.w!, Number(r.v));
  }
  return placed;
}

export interface KeyedOrder {
  id: string;
  status: string;
  total: number;
  currency: string;
  requestHash: string | null;
  idempotencyKey: string;
}

export async function ordersByKeys(s: SqlSession, keys: readonly string[]): Promise<Map<string, KeyedOrder>> {
  if (keys.length === 0) return new Map();
  const rows = await s.query<Record<string, unknown>>(placeOrdersSql.byKeys(s.dialect), [s.dialect === 'postgres' ? [...keys] : JSON.stringify(keys)], {
    prepare: true,
  });
  return new Map(
    rows.map((r) => [
      String(r.idempotency_key),
      {
        id: String(r.id),
        status: String(r.status),
        total: Number(r.total),
        currency: String(r.currency),
        requestHash: (r.request_hash as string | null) ?? null,
        idempotencyKey: String(r.idempotency_key),
      },
    ]),
  );
}
