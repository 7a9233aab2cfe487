import type { EntityManager } from 'typeorm';
import type { Envelope } from '@app/contracts';
import { OrderEntity, OrderTimelineEntity } from './order.entity';
import type { SagaState } from '../saga/order-saga';

export function sagaStateOf(o: OrderEntity): SagaState {
  return {
    status: o.status,
    reason: o.cancellationReason,
    payment: o.paymentState,
    stock: o.stockState,
    refundRequested: o.refundRequested,
    releaseRequested: o.releaseRequested,
  };
}

export function applySagaState(o: OrderEntity, s: SagaState): void {
  o.status = s.status;
  o.cancellationReason = s.reason;
  o.paymentState = s.payment;
  o.stockState = s.stock;
  o.refundRequested = s.refundRequested;
  o.releaseRequested = s.releaseRequested;
}

/** Loads an order for update: concurrent messages for one order take turns. */
export function lockOrder(manager: EntityManager, id: string): Promise<OrderEntity | null> {
  return manager.getRepository(OrderEntity).findOne({ where: { id }, lock: { mode: 'pessimistic_write' } });
}

export async function appendTimeline(
  manager: EntityManager,
  orderId: string,
  message: Pick<Envelope, 'type' | 'source' | 'messageId' | 'occurredAt'>,
  note?: string,
): Promise<void> {
  await manager.getRepository(OrderTimelineEntity).insert({
    orderId,
    type: message.type,
    source: message.source,
    messageId: message.messageId,
    note: note?.slice(0, 300) ?? null,
    occurredAt: new Date(message.occurredAt),
  });
}
