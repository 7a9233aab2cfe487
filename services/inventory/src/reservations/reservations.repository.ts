import { randomUUID } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import { lockForTransaction } from '@app/persistence';
import type { Reservation } from './reservation.decide';
import { ReservationEntity } from './reservation.entity';

export function reservationOf(r: ReservationEntity): Reservation {
  return { status: r.status, items: r.items, shortages: r.shortages };
}

/** The name of an order's lock (a PostgreSQL advisory lock, an SQL Server app lock). */
export function orderLockName(orderId: string): string {
  return `inventory:order:${orderId}`;
}

/**
 * Makes messages for one order take turns, even before the order has a reservation row to
 * lock: without it, a ReleaseStock and a PaymentAuthorized for an unseen order would both find
 * no row, and one would fail on the UNIQUE order_id (correct, but a retry and an error log for
 * an ordinary race). Taken first in every handler transaction and held until commit; it is the
 * only named lock a handler takes, so it cannot be part of a deadlock. PostgreSQL waits for it
 * as long as it takes; SQL Server gives up after its lock timeout, and then the message fails
 * and is retried like any other failure.
 */
export async function lockOrder(manager: EntityManager, orderId: string): Promise<void> {
  if (!(await lockForTransaction(manager, orderLockName(orderId)))) throw new Error(`timed out waiting for the lock on order ${orderId}`);
}

/** Loads an order's reservation for update. */
export function lockReservation(manager: EntityManager, orderId: string): Promise<ReservationEntity | null> {
  return manager.getRepository(ReservationEntity).findOne({ where: { orderId }, lock: { mode: 'pessimistic_write' } });
}

/** Inserts the order's reservation, or updates the one loaded; the UNIQUE order_id settles races. */
export async function saveReservation(manager: EntityManager, orderId: string, existing: ReservationEntity | null, next: Reservation): Promise<void> {
  if (existing) {
    await manager.update(ReservationEntity, { id: existing.id }, { status: next.status, items: next.items, shortages: next.shortages });
  } else {
    await manager.insert(ReservationEntity, { id: randomUUID(), orderId, status: next.status, items: next.items, shortages: next.shortages });
  }
}
