import type { DeclineReason } from '@app/contracts';
import type { Dialect, SqlSession } from '@app/persistence';
import type { Account, Payment, PaymentStatus } from './payment.decide';

/** An account as the handler holds it: the balance, and the gateway's test flag. */
export interface AccountRow extends Account {
  simulateGatewayError: boolean;
}

/**
 * Payment's statements: one locks and loads the payments of a batch's orders and the accounts
 * of its customers, one writes what the batch decided. Locks: payments in order-id order, then
 * accounts in customer-id order, in every path, so two batches never wait on each other in a
 * circle. Both dialects side by side; exported for the test that checks the SQL Server ones.
 */
export const paymentsSql = {
  lock(d: Dialect): string {
    if (d === 'postgres') {
      return `WITH p AS (
          SELECT id, order_id, customer_id, amount, currency, status, decline_reason, refunded_amount FROM payments
           WHERE order_id = ANY($1::uuid[]) ORDER BY order_id FOR UPDATE),
        a AS (
          SELECT customer_id, balance, simulate_gateway_error FROM accounts
           WHERE customer_id = ANY($2::text[] || ARRAY(SELECT customer_id FROM p WHERE customer_id IS NOT NULL)) ORDER BY customer_id FOR UPDATE)
        SELECT 'p' AS k, to_jsonb(p) AS r FROM p UNION ALL SELECT 'a', to_jsonb(a) FROM a`;
    }
    return `DECLARE @p TABLE (id nvarchar(36), order_id nvarchar(36), customer_id nvarchar(64), amount bigint, currency nvarchar(3), status nvarchar(20),
                              decline_reason nvarchar(30), refunded_amount bigint);

      INSERT INTO @p SELECT id, order_id, customer_id, amount, currency, status, decline_reason, refunded_amount
        FROM payments WITH (UPDLOCK, ROWLOCK) WHERE order_id IN (SELECT value FROM OPENJSON(@0)) ORDER BY order_id;

      SELECT 'p' AS k, (SELECT p.* FOR JSON PATH, WITHOUT_ARRAY_WRAPPER) AS r FROM @p p
      UNION ALL
      SELECT 'a', (SELECT a.customer_id, a.balance, a.simulate_gateway_error FOR JSON PATH, WITHOUT_ARRAY_WRAPPER)
        FROM accounts a WITH (UPDLOCK, ROWLOCK)
       WHERE a.customer_id IN (SELECT value FROM OPENJSON(@1) UNION SELECT customer_id FROM @p WHERE customer_id IS NOT NULL)`;
  },

  write(d: Dialect): string {
    if (d === 'postgres') {
      return `WITH pay AS (
          INSERT INTO payments (id, order_id, customer_id, amount, currency, status, decline_reason, refunded_amount, created_at, updated_at)
          SELECT x.id, x.order_id, x.customer_id, x.amount, x.currency, x.status, x.decline_reason, x.refunded_amount, $11, $11
            FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::bigint[])
                 AS x(id, order_id, customer_id, amount, currency, status, decline_reason, refunded_amount)
          ON CONFLICT (id) DO UPDATE SET customer_id = EXCLUDED.customer_id, amount = EXCLUDED.amount, currency = EXCLUDED.currency,
                 status = EXCLUDED.status, decline_reason = EXCLUDED.decline_reason, refunded_amount = EXCLUDED.refunded_amount, updated_at = EXCLUDED.updated_at)
        INSERT INTO accounts (customer_id, balance, simulate_gateway_error, updated_at)
        SELECT c, b, false, $11 FROM unnest($9::text[], $10::bigint[]) AS y(c, b)
        ON CONFLICT (customer_id) DO UPDATE SET balance = EXCLUDED.balance, updated_at = EXCLUDED.updated_at`;
    }
    return `MERGE payments WITH (HOLDLOCK) AS p
      USING OPENJSON(@0) WITH (id nvarchar(36), order_id nvarchar(36), customer_id nvarchar(64), amount bigint, currency nvarchar(3), status nvarchar(20),
            decline_reason nvarchar(30), refunded_amount bigint) AS x ON p.id = x.id
      WHEN MATCHED THEN UPDATE SET customer_id = x.customer_id, amount = x.amount, currency = x.currency, status = x.status, decline_reason = x.decline_reason,
            refunded_amount = x.refunded_amount, updated_at = @2
      WHEN NOT MATCHED THEN INSERT (id, order_id, customer_id, amount, currency, status, decline_reason, refunded_amount, created_at, updated_at)
            VALUES (x.id, x.order_id, x.customer_id, x.amount, x.currency, x.status, x.decline_reason, x.refunded_amount, @2, @2);

      MERGE accounts WITH (HOLDLOCK) AS a
      USING OPENJSON(@1) WITH (customer_id nvarchar(64), balance bigint) AS y ON a.customer_id = y.customer_id
      WHEN MATCHED THEN UPDATE SET balance = y.balance, updated_at = @2
      WHEN NOT MATCHED THEN INSERT (customer_id, balance, simulate_gateway_error, updated_at) VALUES (y.customer_id, y.balance, 0, @2);`;
  },
};

type Raw = Record<string, unknown>;

function paymentOf(r: Raw): Payment {
  return {
    id: String(r.id),
    orderId: String(r.order_id),
    customerId: (r.customer_id as string | null) ?? null,
    amount: Number(r.amount),
    currency: (r.currency as string | null) ?? null,
    status: r.status as PaymentStatus,
    declineReason: (r.decline_reason as DeclineReason | null) ?? null,
    refundedAmount: Number(r.refunded_amount),
  };
}

function accountOf(r: Raw): AccountRow {
  const flag = r.simulate_gateway_error;
  return { customerId: String(r.customer_id), balance: Number(r.balance), simulateGatewayError: flag === true || flag === 1 || flag === '1' };
}

export async function lockPaymentsAndAccounts(
  s: SqlSession,
  orderIds: readonly string[],
  customerIds: readonly string[],
): Promise<{ payments: Map<string, Payment>; accounts: Map<string, AccountRow> }> {
  const pg = s.dialect === 'postgres';
  const rows = await s.query<{ k: string; r: Raw | string }>(
    paymentsSql.lock(s.dialect),
    [pg ? [...orderIds] : JSON.stringify(orderIds), pg ? [...customerIds] : JSON.stringify(customerIds)],
    { prepare: true },
  );
  const payments = new Map<string, Payment>();
  const accounts = new Map<string, AccountRow>();
  for (const { k, r } of rows) {
    const row = typeof r === 'string' ? (JSON.parse(r) as Raw) : r;
    if (k === 'p') {
      const p = paymentOf(row);
      payments.set(p.orderId, p);
    } else {
      const a = accountOf(row);
      accounts.set(a.customerId, a);
    }
  }
  return { payments, accounts };
}

export async function writePayments(s: SqlSession, payments: readonly Payment[], accounts: readonly Account[], now: Date): Promise<void> {
  if (payments.length === 0 && accounts.length === 0) return;
  if (s.dialect === 'postgres') {
    await s.query(
      paymentsSql.write('postgres'),
      [
        payments.map((p) => p.id),
        payments.map((p) => p.orderId),
        payments.map((p) => p.customerId),
        payments.map((p) => p.amount),
        payments.map((p) => p.currency),
        payments.map((p) => p.status),
        payments.map((p) => p.declineReason),
        payments.map((p) => p.refundedAmount),
        accounts.map((a) => a.customerId),
        accounts.map((a) => a.balance),
        now,
      ],
      { prepare: true },
    );
    return;
  }
  await s.query(paymentsSql.write('mssql'), [
    JSON.stringify(
      payments.map((p) => ({
        id: p.id,
        order_id: p.orderId,
        customer_id: p.customerId,
        amount: p.amount,
        currency: p.currency,
        status: p.status,
        decline_reason: p.declineReason,
        refunded_amount: p.refundedAmount,
      })),
    ),
    JSON.stringify(accounts.map((a) => ({ customer_id: a.customerId, balance: a.balance }))),
    now,
  ]);
}
