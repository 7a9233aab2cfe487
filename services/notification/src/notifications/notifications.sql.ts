import type { Dialect, SqlSession } from '@app/persistence';
import type { Delivery, OutcomeKind } from './notification.decide';

/** A delivery record as the handler writes it (the columns of `notifications`). */
export interface DeliveryRow {
  orderId: string;
  outcome: OutcomeKind;
  customerId: string;
  recipient: string | null;
  subject: string;
  status: 'SENT' | 'SKIPPED' | 'FAILED';
  attempts: number;
  lastError: string | null;
  messageId: string;
  smtpResponse: string | null;
  correlationId: string;
  sentAt: Date | null;
}

export const keyOf = (orderId: string, outcome: OutcomeKind) => `${orderId}/${outcome}`;

/**
 * The handler's two statements, both dialects side by side: one locks and loads the delivery
 * records of a batch's (order, outcome) keys, one writes what the batch decided.
 */
export const notificationsSql = {
  lock(d: Dialect): string {
    return d === 'postgres'
      ? `SELECT order_id, outcome, status, attempts, last_error FROM notifications
          WHERE (order_id, outcome) IN (SELECT * FROM unnest($1::uuid[], $2::text[])) ORDER BY order_id, outcome FOR UPDATE`
      : `SELECT n.order_id, n.outcome, n.status, n.attempts, n.last_error FROM notifications n WITH (UPDLOCK, HOLDLOCK)
          WHERE EXISTS (SELECT 1 FROM OPENJSON(@0) WITH (order_id nvarchar(36), outcome nvarchar(20)) k WHERE k.order_id = n.order_id AND k.outcome = n.outcome)
          ORDER BY n.order_id, n.outcome`;
  },

  write(d: Dialect): string {
    if (d === 'postgres') {
      return `INSERT INTO notifications (order_id, outcome, customer_id, recipient, subject, status, attempts, last_error, message_id, smtp_response,
                                         correlation_id, created_at, updated_at, sent_at)
        SELECT x.order_id, x.outcome, x.customer_id, x.recipient, x.subject, x.status, x.attempts, x.last_error, x.message_id, x.smtp_response,
               x.correlation_id, $13, $13, x.sent_at
          FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int[], $8::text[], $9::text[], $10::text[], $11::text[], $12::timestamptz[])
               AS x(order_id, outcome, customer_id, recipient, subject, status, attempts, last_error, message_id, smtp_response, correlation_id, sent_at)
        ON CONFLICT (order_id, outcome) DO UPDATE SET recipient = excluded.recipient, subject = excluded.subject, status = excluded.status,
               attempts = excluded.attempts, last_error = excluded.last_error, smtp_response = excluded.smtp_response, updated_at = excluded.updated_at,
               sent_at = excluded.sent_at`;
    }
    return `MERGE notifications WITH (HOLDLOCK) AS n
      USING OPENJSON(@0) WITH (order_id nvarchar(36), outcome nvarchar(20), customer_id nvarchar(64), recipient nvarchar(254),
             subject nvarchar(300), status nvarchar(20), attempts int, last_error nvarchar(1000), message_id nvarchar(300), smtp_response nvarchar(300),
             correlation_id nvarchar(200), sent_at datetimeoffset) AS x ON n.order_id = x.order_id AND n.outcome = x.outcome
      WHEN MATCHED THEN UPDATE SET recipient = x.recipient, subject = x.subject, status = x.status, attempts = x.attempts, last_error = x.last_error,
             smtp_response = x.smtp_response, updated_at = @1, sent_at = x.sent_at
      WHEN NOT MATCHED THEN INSERT (order_id, outcome, customer_id, recipient, subject, status, attempts, last_error, message_id, smtp_response,
             correlation_id, created_at, updated_at, sent_at)
           VALUES (x.order_id, x.outcome, x.customer_id, x.recipient, x.subject, x.status, x.attempts, x.last_error, x.message_id, x.smtp_response,
             x.correlation_id, @1, @1, x.sent_at);`;
  },
};

/** The delivery records of these keys, locked until the transaction ends; a key without one is absent. */
export async function lockDeliveries(s: SqlSession, keys: ReadonlyArray<{ orderId: string; outcome: OutcomeKind }>): Promise<Map<string, Delivery>> {
  if (keys.length === 0) return new Map();
  const params =
    s.dialect === 'postgres'
      ? [keys.map((k) => k.orderId), keys.map((k) => k.outcome)]
      : [JSON.stringify(keys.map((k) => ({ order_id: k.orderId, outcome: k.outcome })))];
  const rows = await s.query<Record<string, unknown>>(notificationsSql.lock(s.dialect), params, { prepare: true });
  return new Map(
    rows.map((r) => {
      const attempts = Number(r.attempts);
      const status = String(r.status);
      const delivery: Delivery =
        status === 'FAILED' ? { status, attempts, lastError: String(r.last_error ?? '') } : { status: status as 'SENT' | 'SKIPPED', attempts };
      return [keyOf(String(r.order_id), r.outcome as OutcomeKind), delivery];
    }),
  );
}

export async function writeDeliveries(s: SqlSession, rows: readonly DeliveryRow[], now: Date): Promise<void> {
  if (rows.length === 0) return;
  if (s.dialect === 'postgres') {
    await s.query(
      notificationsSql.write('postgres'),
      [
        rows.map((r) => r.orderId),
        rows.map((r) => r.outcome),
        rows.map((r) => r.customerId),
        rows.map((r) => r.recipient),
        rows.map((r) => r.subject),
        rows.map((r) => r.status),
        rows.map((r) => r.attempts),
        rows.map((r) => r.lastError),
        rows.map((r) => r.messageId),
        rows.map((r) => r.smtpResponse),
        rows.map((r) => r.correlationId),
        rows.map((r) => r.sentAt),
        now,
      ],
      { prepare: true },
    );
    return;
  }
  await s.query(notificationsSql.write('mssql'), [
    JSON.stringify(
      rows.map((r) => ({
        order_id: r.orderId,
        outcome: r.outcome,
        customer_id: r.customerId,
        recipient: r.recipient,
        subject: r.subject,
        status: r.status,
        attempts: r.attempts,
        last_error: r.lastError,
        message_id: r.messageId,
        smtp_response: r.smtpResponse,
        correlation_id: r.correlationId,
        sent_at: r.sentAt?.toISOString() ?? null,
      })),
    ),
    now,
  ]);
}
