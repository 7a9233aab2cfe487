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
  type MessageOf,
  OrderDeadlineReached,
  pricedLines,
} from '@app/contracts';
import { asMessage, handled, LOGGER, on, unreachable, type BatchHandler, type MessageResult, type MessagesOf, type Tx } from '@app/messaging';
import { CLOCK, type Clock, type Logger } from '@app/platform';
import { lockOrders, sagaStateOf, withSagaState, writeOrders, type OrderRow, type TimelineRow } from '../orders/orders.sql';
import { isTerminal, orderSaga, type SagaInput, type SagaOutput } from './order-saga';
import { OrderSagaMetrics } from './order-saga.metrics';

export const SERVICE = 'order';

/** What Order consumes from the bus; `libs/contracts/src/topology.ts` binds exactly these. */
export const orderSubscriptions = [
  on(PaymentAuthorized, 'payment'),
  on(PaymentDeclined, 'payment'),
  on(PaymentRefunded, 'payment'),
  on(StockReserved, 'inventory'),
  on(StockReservationFailed, 'inventory'),
  on(StockReleased, 'inventory'),
  on(SagaStepFailed, '*'),
] as const;

/** A customer's cancel, as a saga input like any message (never published). */
export type CancelRequested = Omit<Envelope<{ orderId: string }>, 'type'> & { type: 'CancelRequested' };
export type DeadlineReached = MessageOf<typeof OrderDeadlineReached>;

/** Everything that moves an order's saga: bus messages, the deadline, a customer's cancel. */
export type SagaMessage = MessagesOf<typeof orderSubscriptions> | DeadlineReached | CancelRequested;

export interface Applied {
  /** The order after the decision; null for an order Order does not know. */
  order: OrderRow | null;
  accepted: boolean;
  why?: string;
}

/** What a message is to the saga's decide function (the model of test/support/model uses it too). */
export function sagaInputOf({ type }: Pick<SagaMessage, 'type'>): SagaInput {
  switch (type) {
    case 'OrderDeadlineReached':
      return { type: 'DeadlineReached' };
    case 'CancelRequested':
    case 'PaymentAuthorized':
    case 'PaymentDeclined':
    case 'PaymentRefunded':
    case 'StockReserved':
    case 'StockReservationFailed':
    case 'StockReleased':
    case 'SagaStepFailed':
      return { type };
    default:
      return unreachable(type);
  }
}

/** The order a message is about: the payload's order id (a dead-lettered step names it as `orderId`). */
const orderIdOf = (m: SagaMessage): string => m.payload.orderId;

/**
 * Every input of an order's saga goes through `apply`, a batch at a time: one statement locks
 * and loads every order of the batch (in id order), the saga decides each input in memory in
 * arrival order (so two inputs for one order see each other), and one statement writes the
 * orders that changed and every timeline line; what the saga sends goes to the outbox in the
 * same transaction. An input the saga does not accept is not applied, but it is recorded in
 * the timeline with the reason, and logged.
 */
@Injectable()
export class OrderSagaHandlers implements BatchHandler<typeof orderSubscriptions> {
  readonly subscriptions = orderSubscriptions;

  constructor(
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(OrderSagaMetrics) private readonly metrics: OrderSagaMetrics,
  ) {}

  async handle(tx: Tx, messages: Array<MessagesOf<typeof orderSubscriptions>>): Promise<MessageResult[]> {
    await this.apply(tx, messages);
    return messages.map(() => handled);
  }

  async apply(tx: Tx, messages: readonly SagaMessage[]): Promise<Applied[]> {
    const now = this.clock.now();
    const orders = new Map((await lockOrders(tx.sql, [...new Set(messages.map(orderIdOf))])).map((o) => [o.id, o]));
    const changed = new Set<string>();
    const timeline: TimelineRow[] = [];
    const line = (orderId: string, m: Pick<Envelope, 'type' | 'source' | 'messageId' | 'occurredAt'>, note: string | null = null) =>
      timeline.push({ orderId, type: m.type, source: m.source, messageId: m.messageId, note: note?.slice(0, 300) ?? null, occurredAt: new Date(m.occurredAt) });

    const applied = messages.map((m) =>
      asMessage(m, (): Applied => {
        const orderId = orderIdOf(m);
        const order = orders.get(orderId);
        if (!order) {
          this.logger.warn('message for an unknown order', { orderId, type: m.type });
          return { order: null, accepted: false, why: 'unknown order' };
        }
        const input = sagaInputOf(m);
        const decision = orderSaga.decide(sagaStateOf(order), input);
        if (!decision.accepted) {
          this.logger.info('saga did not accept the message', { orderId, type: m.type, status: order.status, why: decision.why });
          line(orderId, m, `not applied: ${decision.why}`);
          return { order, accepted: false, why: decision.why };
        }
        let next = withSagaState(order, decision.state);
        const reached = next.status;
        if (!isTerminal(order.status) && isTerminal(reached)) {
          next = { ...next, completedAt: now };
          const reason = next.cancellationReason;
          tx.afterCommit(() => this.metrics.completed(reached, reason, order.createdAt, now));
        }
        next = { ...next, updatedAt: now };
        orders.set(orderId, next);
        changed.add(orderId);
        line(orderId, m);
        const outgoing = decision.send.map((o) => this.envelopeFor(o, next, m, now));
        for (const e of outgoing) line(orderId, e);
        tx.send(...outgoing);
        this.logger.debug('saga step', { orderId, input: input.type, status: next.status, sent: decision.send.map((o) => o.type) });
        return { order: next, accepted: true };
      }),
    );
    await writeOrders(
      tx.sql,
      [...changed].map((id) => orders.get(id)!),
      timeline,
    );
    return applied;
  }

  private envelopeFor(out: SagaOutput, order: OrderRow, cause: Envelope | SagaMessage, now: Date): Envelope {
    const base = { key: order.id, source: SERVICE, causedBy: cause, occurredAt: now };
    switch (out.type) {
      case 'OrderConfirmed': {
        const payload: OrderConfirmed = {
          orderId: order.id,
          customerId: order.customerId,
          total: order.total,
          currency: order.currency,
          placedAt: order.createdAt.toISOString(),
          ...forTheCustomer(order),
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
          ...forTheCustomer(order),
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
      default:
        return unreachable(out);
    }
  }
}

/** What the outcome events carry for Notification: where to write, and the order's lines. */
function forTheCustomer(order: OrderRow): Pick<OrderConfirmed, 'email' | 'items'> {
  return { email: order.email, items: pricedLines(order.items) };
}
