import { Inject, Injectable } from '@nestjs/common';
import {
  createEnvelope,
  OrderCancelled,
  OrderConfirmed,
  PaymentAuthorized,
  PaymentDeclined,
  PaymentRefunded,
  RefundPayment,
  ReleaseStock,
  SagaStepFailed,
  StockReleased,
  StockReservationFailed,
  StockReserved,
  type Envelope,
  type MessageContract,
} from '@app/contracts';
import { LOGGER, UnitOfWork, type HandlerRegistration, type MessageHandlers, type Tx } from '@app/messaging';
import { CLOCK, type Clock, type Logger } from '@app/platform';
import type { OrderEntity } from '../orders/order.entity';
import { appendTimeline, applySagaState, lockOrder, sagaStateOf } from '../orders/orders.repository';
import { decide, isTerminal, type SagaInput, type SagaOutput } from './order-saga';

export const SERVICE = 'order';

/**
 * Every message that moves an order's saga goes through `apply`: inbox, load (locked),
 * decide, save, outbox, one commit. HTTP cancels and the deadline come here too.
 */
@Injectable()
export class OrderSagaHandlers implements MessageHandlers {
  constructor(
    private readonly uow: UnitOfWork,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  registrations(): HandlerRegistration[] {
    const on = (contract: MessageContract, from: string): HandlerRegistration => ({
      contract,
      from,
      handle: (m: Envelope<never>) => this.onMessage(m as Envelope<{ orderId: string }>),
    });
    return [
      on(PaymentAuthorized, 'payment'),
      on(PaymentDeclined, 'payment'),
      on(PaymentRefunded, 'payment'),
      on(StockReserved, 'inventory'),
      on(StockReservationFailed, 'inventory'),
      on(StockReleased, 'inventory'),
      on(SagaStepFailed, '*'),
    ];
  }

  async onMessage(message: Envelope<{ orderId: string }>): Promise<void> {
    const result = await this.uow.handle(SERVICE, message, (tx) =>
      this.apply(tx, message.payload.orderId, { type: message.type } as SagaInput, message).then(() => undefined),
    );
    if (result === 'duplicate') this.logger.info('duplicate message ignored', { type: message.type });
  }

  /**
   * Applies one saga input to an order inside `tx`. Returns the order after the decision and
   * whether the saga accepted the input (a rejected one is recorded in the timeline and logged).
   */
  async apply(tx: Tx, orderId: string, input: SagaInput, cause: Envelope): Promise<{ order: OrderEntity | null; accepted: boolean; why?: string }> {
    const order = await lockOrder(tx.manager, orderId);
    if (!order) {
      this.logger.warn('message for an unknown order', { orderId, type: cause.type });
      return { order: null, accepted: false, why: 'unknown order' };
    }
    const decision = decide(sagaStateOf(order), input);
    if (!decision.accepted) {
      this.logger.info('saga did not accept the message', { orderId, type: cause.type, status: order.status, why: decision.why });
      await appendTimeline(tx.manager, order.id, cause, `not applied: ${decision.why}`);
      return { order, accepted: false, why: decision.why };
    }
    const wasTerminal = isTerminal(order.status);
    applySagaState(order, decision.state);
    if (!wasTerminal && isTerminal(order.status)) order.completedAt = this.clock.now();
    await tx.manager.save(order);
    await appendTimeline(tx.manager, order.id, cause);
    const outgoing = decision.send.map((o) => this.envelopeFor(o, order, cause));
    for (const e of outgoing) await appendTimeline(tx.manager, order.id, e);
    await tx.send(...outgoing);
    this.logger.info('saga step', { orderId, input: input.type, status: order.status, sent: decision.send.map((o) => o.type) });
    return { order, accepted: true };
  }

  private envelopeFor(out: SagaOutput, order: OrderEntity, cause: Envelope): Envelope {
    const base = { key: order.id, source: SERVICE, causedBy: cause, occurredAt: this.clock.now() };
    switch (out.type) {
      case 'OrderConfirmed': {
        const payload: OrderConfirmed = {
          orderId: order.id,
          customerId: order.customerId,
          total: order.total,
          currency: order.currency,
          placedAt: order.createdAt.toISOString(),
        };
        return createEnvelope({ ...base, type: OrderConfirmed.type, payload });
      }
      case 'OrderCancelled': {
        const payload: OrderCancelled = {
          orderId: order.id,
          customerId: order.customerId,
          reason: out.reason,
          total: order.total,
          currency: order.currency,
          placedAt: order.createdAt.toISOString(),
        };
        return createEnvelope({ ...base, type: OrderCancelled.type, payload });
      }
      case 'RefundPayment': {
        const payload: RefundPayment = { orderId: order.id, reason: out.reason };
        return createEnvelope({ ...base, type: RefundPayment.type, payload });
      }
      case 'ReleaseStock': {
        const payload: ReleaseStock = { orderId: order.id, reason: out.reason };
        return createEnvelope({ ...base, type: ReleaseStock.type, payload });
      }
    }
  }
}
