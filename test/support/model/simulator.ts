import { pricedLines } from '@app/contracts';
import { unreachable } from '@app/messaging';
import type { OrderStatus, SagaInput } from '../../../services/order/src/saga/order-saga';
import type { Account } from '../../../services/payment/src/payments/payment.decide';
import type { StockLevel } from '../../../services/inventory/src/reservations/reservation.decide';
import { consumersOf, contractViolation, message, uuid, type Message, type MessageType, type Service } from './messages';
import {
  inventoryInputOf,
  OrderBook,
  paymentInputOf,
  PaymentLedger,
  sagaInputOf,
  StockRoom,
  type InventoryMessage,
  type OrderMessage,
  type PaymentMessage,
  type PlacedOrder,
} from './services';

/**
 * The saga in memory: Order, Payment and Inventory, each behind its inbox (by message id) and
 * driving its real decide function in arrival order, connected as `sagaTopology` binds them.
 * A script (chosen by fast-check) says what happens next: which message in flight is delivered,
 * which one is delivered again, when a customer cancels, when a deadline fires, which step is
 * dead-lettered and which dead letter is replayed. `quiesce` then delivers everything left,
 * oldest first, and fires the deadline of any order still PENDING, as the scheduler would.
 *
 * What it leaves out: batches (one message per transaction here; the handlers decide a batch in
 * arrival order on what they loaded, which is the same sequence of decisions), SQL, the gateway
 * (it approves every charge), and the event stream.
 */
export interface World {
  /** Customers with an account; an order may name a customer without one (UNKNOWN_CUSTOMER). */
  accounts: Account[];
  stock: StockLevel[];
  orders: PlacedOrder[];
}

export type Step =
  | { do: 'deliver'; pick: number }
  | { do: 'redeliver'; pick: number }
  | { do: 'cancel'; order: number }
  | { do: 'deadline'; order: number }
  | { do: 'deadLetter'; pick: number }
  | { do: 'replay'; pick: number };

export interface Delivery {
  to: Service;
  message: Message;
}

/** A message a service decided (its first delivery: the inbox had not seen it). */
export interface Decided {
  at: number;
  /** Order of events across `decided` and `published`. */
  seq: number;
  service: Service;
  message: Message;
  accepted: boolean;
  why?: string;
}

export interface Transition {
  at: number;
  orderId: string;
  from: OrderStatus;
  to: OrderStatus;
  by: string;
}

/** Messages a step may fail on (dead-lettered at its consumer). Compensations and their answers are left out: see Known limits in docs/saga.md. */
const failable: ReadonlySet<MessageType> = new Set<MessageType>([
  'OrderPlaced',
  'PaymentAuthorized',
  'PaymentDeclined',
  'StockReserved',
  'StockReservationFailed',
]);

const isPaymentMessage = (m: Message): m is PaymentMessage => m.type === 'OrderPlaced' || m.type === 'RefundPayment';
const isInventoryMessage = (m: Message): m is InventoryMessage => m.type === 'PaymentAuthorized' || m.type === 'ReleaseStock';
const isOrderMessage = (m: Message): m is OrderMessage =>
  m.type === 'PaymentAuthorized' ||
  m.type === 'PaymentDeclined' ||
  m.type === 'PaymentRefunded' ||
  m.type === 'StockReserved' ||
  m.type === 'StockReservationFailed' ||
  m.type === 'StockReleased' ||
  m.type === 'SagaStepFailed' ||
  m.type === 'OrderDeadlineReached';

export class SagaSimulator {
  readonly order: OrderBook;
  readonly payment: PaymentLedger;
  readonly inventory: StockRoom;

  readonly log: string[] = [];
  /** Everything any service sent, with the step it was sent at. */
  readonly published: Array<{ at: number; seq: number; message: Message }> = [];
  readonly decided: Decided[] = [];
  readonly transitions: Transition[] = [];
  /** Money the gateway was asked for, per order. */
  readonly charges: Array<{ at: number; orderId: string; amount: number }> = [];
  readonly deadLetters: Delivery[] = [];
  /** Broken rules noticed while running (a payload against its contract, a message nobody handles). */
  readonly faults: string[] = [];

  private readonly inFlight: Delivery[] = [];
  private readonly enqueued: Delivery[] = [];
  private readonly inboxes: Record<Service, Set<string>> = { order: new Set(), payment: new Set(), inventory: new Set() };
  /** The dead-letter hook's own inbox (`<service>.dead-letters`): one SagaStepFailed per dead-lettered message. */
  private readonly hookInboxes: Record<Service, Set<string>> = { order: new Set(), payment: new Set(), inventory: new Set() };
  private readonly labels = new Map<string, string>();
  private ids = 0;
  private paymentIds = 0;
  private seq = 0;
  private now = 0;

  constructor(readonly world: World) {
    this.order = new OrderBook(world.orders);
    this.payment = new PaymentLedger(world.accounts);
    this.inventory = new StockRoom(world.stock);
    world.orders.forEach((o, i) => this.labels.set(o.orderId, `o${i + 1}`));
    this.log.push(`accounts: ${world.accounts.map((a) => `${a.customerId}=${a.balance}`).join(', ') || 'none'}`);
    this.log.push(`stock: ${world.stock.map((s) => `${s.sku}=${s.available}`).join(', ') || 'none'}`);
    for (const o of world.orders) {
      const lines = o.items.map((l) => `${l.sku}×${l.quantity}@${l.unitPrice}`).join(' ');
      this.log.push(`${this.label(o.orderId)}: ${o.customerId} orders ${lines} (total ${o.total})`);
    }
    // POST /api/orders: the order and its OrderPlaced are written in one statement.
    for (const o of world.orders) {
      const { orderId, customerId, items, total, currency } = o;
      this.publish(message('OrderPlaced', { orderId, customerId, items: pricedLines(items), total, currency, email: null }, 'order', this.newId(), null));
    }
  }

  get pending(): readonly Delivery[] {
    return this.inFlight;
  }

  label(orderId: string): string {
    return this.labels.get(orderId) ?? orderId;
  }

  step(s: Step): void {
    this.now++;
    switch (s.do) {
      case 'deliver': {
        if (this.inFlight.length === 0) return;
        const [d] = this.inFlight.splice(s.pick % this.inFlight.length, 1);
        this.deliver(d);
        return;
      }
      case 'redeliver': {
        if (this.enqueued.length === 0) return;
        const d = this.enqueued[s.pick % this.enqueued.length];
        this.inFlight.push(d);
        this.note(`redelivery of ${this.describe(d)} queued`);
        return;
      }
      case 'cancel':
        return this.cancel(this.world.orders[s.order % this.world.orders.length].orderId);
      case 'deadline':
        return this.deadline(this.world.orders[s.order % this.world.orders.length].orderId);
      case 'deadLetter': {
        const candidates = this.inFlight.filter((d) => failable.has(d.message.type) && !this.inboxes[d.to].has(d.message.messageId));
        if (candidates.length === 0) return;
        const d = candidates[s.pick % candidates.length];
        this.inFlight.splice(this.inFlight.indexOf(d), 1);
        this.deadLetter(d, 'simulated: the handler kept failing');
        return;
      }
      case 'replay': {
        if (this.deadLetters.length === 0) return;
        const [d] = this.deadLetters.splice(s.pick % this.deadLetters.length, 1);
        this.inFlight.push(d);
        this.note(`dead letter ${this.describe(d)} replayed`);
        return;
      }
      default:
        return unreachable(s);
    }
  }

  /** Delivers everything in flight, oldest first; then the deadline of every order still PENDING, as the scheduler does. */
  quiesce(): void {
    for (let round = 0; ; round++) {
      for (let n = 0; this.inFlight.length > 0; n++) {
        if (n > 5_000) throw new Error(`no quiescence: still ${this.inFlight.length} messages in flight after 5000 deliveries`);
        this.now++;
        this.deliver(this.inFlight.shift()!);
      }
      const due = [...this.order.orders.values()].filter((o) => o.state.status === 'PENDING');
      if (due.length === 0) return;
      if (round >= 2) throw new Error(`orders stay PENDING after their deadline: ${due.map((o) => this.label(o.orderId)).join(', ')}`);
      this.now++;
      for (const o of due) this.deadline(o.orderId);
    }
  }

  private deliver(d: Delivery): void {
    const inbox = this.inboxes[d.to];
    if (inbox.has(d.message.messageId)) {
      this.note(`deliver ${this.describe(d)}: duplicate, dropped by the inbox`);
      return;
    }
    inbox.add(d.message.messageId);
    switch (d.to) {
      case 'order':
        return this.atOrder(d);
      case 'payment':
        return this.atPayment(d);
      case 'inventory':
        return this.atInventory(d);
      default:
        return unreachable(d.to);
    }
  }

  private atOrder(d: Delivery): void {
    const m = d.message;
    if (!isOrderMessage(m)) return this.noHandler(d);
    this.decideOrder(m.payload.orderId, sagaInputOf(m), m.messageId, `deliver ${this.describe(d)}`, m);
  }

  private atPayment(d: Delivery): void {
    const m = d.message;
    if (!isPaymentMessage(m)) return this.noHandler(d);
    const r = this.payment.handle(paymentInputOf(m, uuid(1_000_000 + ++this.paymentIds)));
    if (!r.accepted) {
      if (r.unprocessable) {
        this.inboxes.payment.delete(m.messageId);
        this.note(`deliver ${this.describe(d)}: unprocessable (${r.why})`);
        return this.deadLetter(d, r.why);
      }
      this.decided.push({ at: this.now, seq: ++this.seq, service: 'payment', message: m, accepted: false, why: r.why });
      this.note(`deliver ${this.describe(d)}: not applied (${r.why})`);
      return;
    }
    this.decided.push({ at: this.now, seq: ++this.seq, service: 'payment', message: m, accepted: true });
    for (const amount of r.charges) this.charges.push({ at: this.now, orderId: m.payload.orderId, amount });
    const p = this.payment.payments.get(m.payload.orderId);
    const account = p?.customerId ? this.payment.accounts.get(p.customerId) : undefined;
    const sent = r.replies.map((reply) => PaymentLedger.messageFor(reply, this.newId(), m.messageId));
    this.note(
      `deliver ${this.describe(d)}: payment ${p?.status ?? 'none'}${account ? `, ${account.customerId} has ${account.balance}` : ''}${this.sentText(sent)}`,
    );
    sent.forEach((s) => this.publish(s));
  }

  private atInventory(d: Delivery): void {
    const m = d.message;
    if (!isInventoryMessage(m)) return this.noHandler(d);
    const r = this.inventory.handle(inventoryInputOf(m));
    if (!r.accepted) {
      this.decided.push({ at: this.now, seq: ++this.seq, service: 'inventory', message: m, accepted: false, why: r.why });
      this.note(`deliver ${this.describe(d)}: not applied (${r.why})`);
      return;
    }
    this.decided.push({ at: this.now, seq: ++this.seq, service: 'inventory', message: m, accepted: true });
    const reservation = this.inventory.reservations.get(m.payload.orderId);
    const levels = [...this.inventory.levels.values()].map((l) => `${l.sku} ${l.available}+${l.reserved}`).join(', ');
    const sent = r.replies.map((reply) => StockRoom.messageFor(reply, this.newId(), m.messageId));
    this.note(`deliver ${this.describe(d)}: reservation ${reservation?.status ?? 'none'}, stock ${levels}${this.sentText(sent)}`);
    sent.forEach((s) => this.publish(s));
  }

  /** POST /api/orders/:id/cancel: decided at once, in its own transaction, no inbox; a refusal stores nothing. */
  private cancel(orderId: string): void {
    this.decideOrder(orderId, { type: 'CancelRequested' }, `cancel-${this.now}`, `customer cancels ${this.label(orderId)}`, null);
  }

  /** The scheduler picks PENDING orders; the deadline then waits in line with Order's messages (a batch that commits first may change the order). */
  private deadline(orderId: string): void {
    const o = this.order.orders.get(orderId);
    if (!o || o.state.status !== 'PENDING') return;
    const d: Delivery = {
      to: 'order',
      message: message('OrderDeadlineReached', { orderId, deadline: '2026-12-01T00:00:30.000Z' }, 'order', `deadline:${orderId}`, null),
    };
    this.inFlight.push(d);
    this.enqueued.push(d);
    this.note(`deadline of ${this.label(orderId)} due`);
  }

  private decideOrder(orderId: string, input: SagaInput, messageId: string, what: string, m: OrderMessage | null): void {
    const r = this.order.decide(orderId, input);
    if (m) this.decided.push({ at: this.now, seq: ++this.seq, service: 'order', message: m, accepted: r.accepted, ...(r.accepted ? {} : { why: r.why }) });
    if (!r.accepted) {
      this.note(`${what}: not applied (${r.why})`);
      return;
    }
    if (r.from.status !== r.to.status) this.transitions.push({ at: this.now, orderId, from: r.from.status, to: r.to.status, by: input.type });
    const sent = r.send.map((out) => this.order.messageFor(out, orderId, this.newId(), messageId));
    this.note(`${what}: ${r.from.status === r.to.status ? r.to.status : `${r.from.status} → ${r.to.status}`}${this.sentText(sent)}`);
    sent.forEach((s) => this.publish(s));
  }

  /** The consumer gave up on a message: the dead-letter hook tells Order once, the message rests in the DLQ. */
  private deadLetter(d: Delivery, error: string): void {
    this.deadLetters.push(d);
    const hook = this.hookInboxes[d.to];
    const m = d.message;
    if (m.type === 'SagaStepFailed' || hook.has(m.messageId)) {
      this.note(`${this.describe(d)} dead-lettered at ${d.to} (no new SagaStepFailed)`);
      return;
    }
    hook.add(m.messageId);
    const failed = message(
      'SagaStepFailed',
      { orderId: m.payload.orderId, service: d.to, failedMessageId: m.messageId, failedMessageType: m.type, error, attempts: 12 },
      d.to,
      this.newId(),
      m.messageId,
    );
    this.note(`${this.describe(d)} dead-lettered at ${d.to}${this.sentText([failed])}`);
    this.publish(failed);
  }

  private noHandler(d: Delivery): void {
    this.faults.push(`${d.to} has no handler for ${d.message.type}, which the topology routes to it`);
    this.inboxes[d.to].delete(d.message.messageId);
    this.deadLetter(d, 'no handler');
  }

  private publish(m: Message): void {
    this.published.push({ at: this.now, seq: ++this.seq, message: m });
    const broken = contractViolation(m);
    if (broken) this.faults.push(`${m.messageId} ${m.type} breaks its contract: ${broken}`);
    const to = consumersOf(m);
    if (to.length === 0 && m.type !== 'OrderConfirmed' && m.type !== 'OrderCancelled')
      this.faults.push(`${m.messageId} ${m.type} from ${m.source} reaches no queue`);
    for (const service of to) {
      const d: Delivery = { to: service, message: m };
      this.inFlight.push(d);
      this.enqueued.push(d);
    }
  }

  private newId(): string {
    return `m${++this.ids}`;
  }

  private note(line: string): void {
    this.log.push(`${String(this.now).padStart(3)}. ${line}`);
  }

  private sentText(sent: Message[]): string {
    return sent.length ? `; sends ${sent.map((s) => `${s.messageId} ${s.type}`).join(', ')}` : '';
  }

  describe(d: Delivery): string {
    const m = d.message;
    return `${m.messageId} ${m.type} ${m.source}→${d.to} [${this.label(m.payload.orderId)} ${this.details(m)}]`;
  }

  private details(m: Message): string {
    switch (m.type) {
      case 'OrderPlaced':
        return `${m.payload.customerId} ${m.payload.total}`;
      case 'PaymentAuthorized':
      case 'PaymentRefunded':
        return `${m.payload.amount}`;
      case 'PaymentDeclined':
        return m.payload.reason;
      case 'StockReserved':
        return m.payload.items.map((l) => `${l.sku}×${l.quantity}`).join(' ');
      case 'StockReleased':
        return `${m.payload.items.map((l) => `${l.sku}×${l.quantity}`).join(' ') || 'nothing'} ${m.payload.reason}`;
      case 'StockReservationFailed':
        return `${m.payload.reason}${m.payload.shortages.map((s) => ` ${s.sku} ${s.requested}>${s.available}`).join('')}`;
      case 'RefundPayment':
      case 'ReleaseStock':
      case 'OrderCancelled':
        return m.payload.reason;
      case 'SagaStepFailed':
        return `${m.payload.failedMessageId} ${m.payload.failedMessageType} at ${m.payload.service}`;
      case 'OrderConfirmed':
      case 'OrderDeadlineReached':
        return '';
      default:
        return unreachable(m);
    }
  }
}
