import type { OrderLine } from '@app/contracts';
import { unreachable } from '@app/messaging';
import { sagaInputOf } from '../../../services/order/src/saga/order-saga.handlers';
import { orderSaga, initialState, type SagaInput, type SagaOutput, type SagaState } from '../../../services/order/src/saga/order-saga';
import { payments, type Account, type Payment, type PaymentInput, type PaymentOutput } from '../../../services/payment/src/payments/payment.decide';
import {
  reservations,
  skusToLock,
  type InventoryInput,
  type InventoryOutput,
  type Reservation,
  type StockLevel,
} from '../../../services/inventory/src/reservations/reservation.decide';
import { message, type Message } from './messages';

/**
 * Each service as its batch handler drives its decide function, one message at a time and
 * without a database: load what the message touches, decide (the real decide function), keep
 * what changed, hand back what to send. The loading and saving rules are the handlers' own
 * (`order-saga.handlers.ts`, `payment.handlers.ts`, `reservation.handlers.ts`); the decisions
 * are never re-implemented here. Every state is frozen before it is decided on, so a decide
 * function that mutated its input would throw.
 */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

// ---------------------------------------------------------------------------------- Order

export interface PlacedOrder {
  orderId: string;
  customerId: string;
  items: OrderLine[];
  total: number;
  currency: string;
  placedAt: string;
}

export interface OrderRecord extends PlacedOrder {
  state: SagaState;
}

export type OrderDecided = { accepted: true; from: SagaState; to: SagaState; send: SagaOutput[] } | { accepted: false; why: string };

export type OrderMessage = Message<
  | 'PaymentAuthorized'
  | 'PaymentDeclined'
  | 'PaymentRefunded'
  | 'StockReserved'
  | 'StockReservationFailed'
  | 'StockReleased'
  | 'SagaStepFailed'
  | 'OrderDeadlineReached'
>;

/** The saga input a message is: the handler's own mapping, so the model cannot drift from it. */
export { sagaInputOf };

export class OrderBook {
  readonly orders = new Map<string, OrderRecord>();

  constructor(placed: readonly PlacedOrder[]) {
    for (const o of placed) this.orders.set(o.orderId, { ...o, state: { ...initialState } });
  }

  decide(orderId: string, input: SagaInput): OrderDecided {
    const order = this.orders.get(orderId);
    if (!order) return { accepted: false, why: 'unknown order' };
    const from = deepFreeze(order.state);
    const d = orderSaga.decide(from, input);
    if (!d.accepted) return { accepted: false, why: d.why };
    this.orders.set(orderId, { ...order, state: d.state });
    return { accepted: true, from, to: d.state, send: d.send };
  }

  /** The message an output becomes (order-saga.handlers.ts `envelopeFor`). */
  messageFor(out: SagaOutput, orderId: string, messageId: string, causationId: string | null): Message {
    const o = this.orders.get(orderId);
    if (!o) throw new Error(`unknown order ${orderId}`);
    const facts = { orderId, customerId: o.customerId, total: o.total, currency: o.currency, placedAt: o.placedAt };
    switch (out.type) {
      case 'OrderConfirmed':
        return message('OrderConfirmed', facts, 'order', messageId, causationId);
      case 'OrderCancelled':
        return message('OrderCancelled', { ...facts, reason: out.reason }, 'order', messageId, causationId);
      case 'RefundPayment':
        return message('RefundPayment', { orderId, reason: out.reason }, 'order', messageId, causationId);
      case 'ReleaseStock':
        return message('ReleaseStock', { orderId, reason: out.reason }, 'order', messageId, causationId);
      default:
        return unreachable(out);
    }
  }
}

// -------------------------------------------------------------------------------- Payment

export type PaymentReply = Exclude<PaymentOutput, { type: 'Charge' }>;
export type PaymentHandled = { accepted: true; charges: number[]; replies: PaymentReply[] } | { accepted: false; why: string; unprocessable: boolean };
export type PaymentMessage = Message<'OrderPlaced' | 'RefundPayment'>;

export function paymentInputOf(m: PaymentMessage, newPaymentId: string): PaymentInput {
  return m.type === 'OrderPlaced' ? { type: 'OrderPlaced', payload: m.payload, newPaymentId } : { type: 'RefundPayment', payload: m.payload, newPaymentId };
}

export class PaymentLedger {
  /** By order id: at most one payment per order, as the table's UNIQUE order_id. */
  readonly payments = new Map<string, Payment>();
  readonly accounts = new Map<string, Account>();

  constructor(accounts: readonly Account[]) {
    for (const a of accounts) this.accounts.set(a.customerId, a);
  }

  /** payment.handlers.ts `decideAll` for one message, with a gateway that approves every charge. */
  handle(input: PaymentInput): PaymentHandled {
    const orderId = input.payload.orderId;
    const payment = this.payments.get(orderId) ?? null;
    const customerId = input.type === 'OrderPlaced' ? input.payload.customerId : payment?.customerId;
    const account = customerId ? (this.accounts.get(customerId) ?? null) : null;
    const d = payments.decide(deepFreeze({ payment, account }), input);
    if (!d.accepted) return { accepted: false, why: d.why, unprocessable: d.unprocessable === true };
    const { payment: nextPayment, account: nextAccount } = d.state;
    if (nextPayment && nextPayment !== payment) this.payments.set(orderId, nextPayment);
    if (nextAccount && nextAccount !== account) this.accounts.set(nextAccount.customerId, nextAccount);
    const charges: number[] = [];
    const replies: PaymentReply[] = [];
    for (const out of d.send) {
      if (out.type === 'Charge') charges.push(out.amount);
      else replies.push(out);
    }
    return { accepted: true, charges, replies };
  }

  static messageFor(reply: PaymentReply, messageId: string, causationId: string): Message {
    return message(reply.type, reply.payload, 'payment', messageId, causationId);
  }
}

// ------------------------------------------------------------------------------ Inventory

export type InventoryHandled = { accepted: true; replies: InventoryOutput[] } | { accepted: false; why: string };
export type InventoryMessage = Message<'PaymentAuthorized' | 'ReleaseStock'>;

/** reservation.handlers.ts `inputOf`: the lines without their prices. */
export function inventoryInputOf(m: InventoryMessage): InventoryInput {
  return m.type === 'PaymentAuthorized'
    ? { type: 'PaymentAuthorized', orderId: m.payload.orderId, items: m.payload.items.map((l) => ({ sku: l.sku, quantity: l.quantity })) }
    : { type: 'ReleaseStock', orderId: m.payload.orderId, reason: m.payload.reason };
}

export class StockRoom {
  readonly reservations = new Map<string, Reservation>();
  /** Only SKUs with a stock row; a row the decision invents for an unknown SKU is not written. */
  readonly levels = new Map<string, StockLevel>();

  constructor(stock: readonly StockLevel[]) {
    for (const s of stock) this.levels.set(s.sku, s);
  }

  /** reservation.handlers.ts `handle` for one message. */
  handle(input: InventoryInput): InventoryHandled {
    const existing = this.reservations.get(input.orderId) ?? null;
    const stock = skusToLock(existing, input).map((sku): StockLevel => this.levels.get(sku) ?? { sku, available: 0, reserved: 0 });
    const d = reservations.decide(deepFreeze({ reservation: existing, stock }), input);
    if (!d.accepted) return { accepted: false, why: d.why };
    const next = d.state.reservation;
    if (next && next !== existing) this.reservations.set(input.orderId, next);
    for (const l of d.state.stock) if (this.levels.has(l.sku) && this.levels.get(l.sku) !== l) this.levels.set(l.sku, l);
    return { accepted: true, replies: d.send };
  }

  static messageFor(reply: InventoryOutput, messageId: string, causationId: string): Message {
    return message(reply.type, reply.payload, 'inventory', messageId, causationId);
  }
}
