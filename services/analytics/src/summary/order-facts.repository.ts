import { MssqlParameter, type EntityManager } from 'typeorm';
import type { Envelope } from '@app/contracts';
import { dialectOf, lockForTransaction, type Dialect } from '@app/persistence';
import { OrderFactEntity } from './order-fact.entity';
import type { OrderFact } from './order-facts.projection';

/**
 * Loads an order's fact for update. The advisory lock comes first because FOR UPDATE locks
 * nothing while the row does not exist yet: two first events for one order (say OrderPlaced
 * and a redelivered OrderConfirmed, with prefetch > 1) would both fold into null and the
 * second insert would fail. With the lock they take turns, row or no row. (PostgreSQL: an
 * advisory lock; SQL Server: an app lock, which gives up after its timeout and so fails the
 * message, to be retried.)
 */
export async function lockOrderFact(manager: EntityManager, orderId: string): Promise<OrderFact | null> {
  if (!(await lockForTransaction(manager, orderFactLockName(orderId)))) throw new Error(`timed out waiting for the lock on order ${orderId}'s fact`);
  const row = await manager.getRepository(OrderFactEntity).findOne({ where: { orderId }, lock: { mode: 'pessimistic_write' } });
  return row ? toFact(row) : null;
}

export async function saveOrderFact(manager: EntityManager, fact: OrderFact, now: Date): Promise<void> {
  await manager.getRepository(OrderFactEntity).upsert(
    {
      orderId: fact.orderId,
      customerId: fact.customerId,
      status: fact.status,
      total: fact.total,
      currency: fact.currency,
      cancellationReason: fact.cancellationReason,
      placedAt: fact.placedAt ? new Date(fact.placedAt) : null,
      completedAt: fact.completedAt ? new Date(fact.completedAt) : null,
      updatedAt: now,
    },
    ['orderId'],
  );
}

/** One more message of this type. Runs last in the handler: the row is hot, hold it briefly. */
export async function countEvent(manager: EntityManager, message: Pick<Envelope, 'type' | 'occurredAt'>): Promise<void> {
  const { sql, params } = countEventSql(dialectOf(manager), message.type, new Date(message.occurredAt));
  await manager.query(sql, params);
}

/**
 * Insert or count up, keeping the latest time seen. SQL Server: MERGE with HOLDLOCK (atomic like
 * ON CONFLICT), CASE for GREATEST (which ignores NULLs; SQL Server has GREATEST only from 2022),
 * and the time sent as datetimeoffset: untyped, a Date would go as datetime, rounded to 1/300 s.
 */
export function countEventSql(d: Dialect, type: string, at: Date): { sql: string; params: unknown[] } {
  if (d === 'mssql') {
    return {
      sql: `MERGE event_counts WITH (HOLDLOCK) AS c
     USING (VALUES (@0, @1)) AS e (type, last_at) ON c.type = e.type
     WHEN MATCHED THEN UPDATE SET count = c.count + 1, last_at = CASE WHEN c.last_at IS NULL OR e.last_at > c.last_at THEN e.last_at ELSE c.last_at END
     WHEN NOT MATCHED THEN INSERT (type, count, last_at) VALUES (e.type, 1, e.last_at);`,
      params: [type, new MssqlParameter(at, 'datetimeoffset')],
    };
  }
  return {
    sql: `INSERT INTO event_counts (type, count, last_at) VALUES ($1, 1, $2)
     ON CONFLICT (type) DO UPDATE SET count = event_counts.count + 1, last_at = GREATEST(event_counts.last_at, EXCLUDED.last_at)`,
    params: [type, at],
  };
}

function toFact(row: OrderFactEntity): OrderFact {
  return {
    orderId: row.orderId,
    customerId: row.customerId,
    status: row.status,
    total: row.total === null ? null : Number(row.total),
    currency: row.currency,
    cancellationReason: row.cancellationReason,
    placedAt: row.placedAt?.toISOString() ?? null,
    completedAt: row.completedAt?.toISOString() ?? null,
  };
}

/** The name of an order fact's lock (a PostgreSQL advisory lock, an SQL Server app lock). */
export function orderFactLockName(orderId: string): string {
  return `analytics:order-fact:${orderId}`;
}
