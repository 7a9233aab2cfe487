import type { EntityManager } from 'typeorm';
import type { Payment } from './payment.decide';
import { PaymentEntity } from './payment.entity';

/** Loads an order's payment for update: messages for one order take turns. */
export function lockPayment(manager: EntityManager, orderId: string): Promise<PaymentEntity | null> {
  return manager.getRepository(PaymentEntity).findOne({ where: { orderId }, lock: { mode: 'pessimistic_write' } });
}

export function paymentOf(p: PaymentEntity): Payment {
  return {
    id: p.id,
    orderId: p.orderId,
    customerId: p.customerId,
    amount: Number(p.amount),
    currency: p.currency,
    status: p.status,
    declineReason: p.declineReason,
    refundedAmount: Number(p.refundedAmount),
  };
}

export async function savePayment(manager: EntityManager, loaded: PaymentEntity | null, p: Payment, now: Date): Promise<void> {
  const repo = manager.getRepository(PaymentEntity);
  const { id, orderId, ...fields } = p;
  if (loaded) await repo.update({ id }, { ...fields, updatedAt: now });
  else await repo.insert({ id, orderId, ...fields, createdAt: now, updatedAt: now });
}
