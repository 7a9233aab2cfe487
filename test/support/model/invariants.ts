import { mergeLines } from '../../../services/inventory/src/reservations/reservation.decide';
import type { OrderStatus } from '../../../services/order/src/saga/order-saga';
import type { Message, MessageType } from './messages';
import type { SagaSimulator } from './simulator';

/**
 * What must hold of the saga, as rules over the simulator's stores and what it recorded. Each
 * returns the rules broken, in words, so a failure says what went wrong before the log says how.
 */

/** Status changes the saga may make; a terminal order stays terminal, except a customer's cancel of a CONFIRMED one. */
const allowed: Record<OrderStatus, readonly OrderStatus[]> = {
  PENDING: ['CONFIRMED', 'CANCELLING', 'CANCELLED'],
  CONFIRMED: ['CANCELLING'],
  CANCELLING: ['CANCELLED'],
  CANCELLED: [],
};

/** Messages an order may cause at most once, whatever is delivered again or late. */
const once: readonly MessageType[] = [
  'PaymentAuthorized',
  'PaymentDeclined',
  'StockReserved',
  'StockReservationFailed',
  'OrderConfirmed',
  'OrderCancelled',
  'RefundPayment',
  'ReleaseStock',
];

const sum = (ns: Iterable<number>): number => [...ns].reduce((a, b) => a + b, 0);

function publishedOf<K extends MessageType>(sim: SagaSimulator, type: K): Array<{ seq: number; message: Message<K> }> {
  const out: Array<{ seq: number; message: Message<K> }> = [];
  for (const p of sim.published) if (isType(p.message, type)) out.push({ seq: p.seq, message: p.message });
  return out;
}
const isType = <K extends MessageType>(m: Message, type: K): m is Message<K> => m.type === type;

/** Rules that hold after every step. */
export function always(sim: SagaSimulator): string[] {
  const broken: string[] = [...sim.faults];
  const { world } = sim;
  const orderOf = new Map(world.orders.map((o) => [o.orderId, o]));

  // Money: never below zero; what left an account is held by an AUTHORIZED payment, and comes back only once.
  for (const initial of world.accounts) {
    const account = sim.payment.accounts.get(initial.customerId);
    if (!account) {
      broken.push(`${initial.customerId}'s account disappeared`);
      continue;
    }
    if (account.balance < 0) broken.push(`${initial.customerId}'s balance is negative: ${account.balance}`);
    const held = sum([...sim.payment.payments.values()].filter((p) => p.customerId === initial.customerId && p.status === 'AUTHORIZED').map((p) => p.amount));
    if (account.balance + held !== initial.balance)
      broken.push(`money not conserved for ${initial.customerId}: started ${initial.balance}, has ${account.balance}, ${held} held by authorized payments`);
    const charged = sum(sim.charges.filter((c) => orderOf.get(c.orderId)?.customerId === initial.customerId).map((c) => c.amount));
    const refunded = sum(
      publishedOf(sim, 'PaymentRefunded')
        .filter((r) => r.message.payload.customerId === initial.customerId)
        .map((r) => r.message.payload.amount),
    );
    if (initial.balance - charged + refunded !== account.balance)
      broken.push(`${initial.customerId}: started ${initial.balance}, charged ${charged}, refunded ${refunded}, but has ${account.balance}`);
  }
  for (const customerId of sim.payment.accounts.keys())
    if (!world.accounts.some((a) => a.customerId === customerId)) broken.push(`an account appeared for ${customerId}`);

  for (const o of world.orders) {
    const label = sim.label(o.orderId);
    const charges = sim.charges.filter((c) => c.orderId === o.orderId);
    if (charges.length > 1) broken.push(`${label} charged ${charges.length} times`);
    if (charges.some((c) => c.amount !== o.total)) broken.push(`${label} charged ${charges.map((c) => c.amount).join('+')}, its total is ${o.total}`);
    const refunded = sum(
      publishedOf(sim, 'PaymentRefunded')
        .filter((r) => r.message.payload.orderId === o.orderId)
        .map((r) => r.message.payload.amount),
    );
    if (refunded > sum(charges.map((c) => c.amount))) broken.push(`${label} refunded ${refunded}, more than was charged`);
    for (const type of once) {
      const n = sim.published.filter((p) => p.message.type === type && p.message.payload.orderId === o.orderId).length;
      if (n > 1) broken.push(`${label}: ${type} sent ${n} times`);
    }
  }

  // Stock: never oversold; what left `available` is in `reserved`, held by a RESERVED reservation; released only what was reserved.
  for (const initial of world.stock) {
    const level = sim.inventory.levels.get(initial.sku);
    if (!level) {
      broken.push(`stock row ${initial.sku} disappeared`);
      continue;
    }
    if (level.available < 0 || level.reserved < 0) broken.push(`${initial.sku} oversold: available ${level.available}, reserved ${level.reserved}`);
    if (level.available + level.reserved !== initial.available + initial.reserved)
      broken.push(`${initial.sku}: ${initial.available + initial.reserved} units became ${level.available} available + ${level.reserved} reserved`);
    const held = sum(
      [...sim.inventory.reservations.values()]
        .filter((r) => r.status === 'RESERVED')
        .flatMap((r) => r.items.filter((l) => l.sku === initial.sku).map((l) => l.quantity)),
    );
    if (held !== level.reserved) broken.push(`${initial.sku}: reserved ${level.reserved}, but RESERVED reservations hold ${held}`);
  }
  for (const sku of sim.inventory.levels.keys()) if (!world.stock.some((s) => s.sku === sku)) broken.push(`a stock row appeared for ${sku}`);
  for (const o of world.orders) {
    const reserved = publishedOf(sim, 'StockReserved').filter((r) => r.message.payload.orderId === o.orderId);
    for (const released of publishedOf(sim, 'StockReleased').filter((r) => r.message.payload.orderId === o.orderId && r.message.payload.items.length > 0)) {
      const before = reserved.filter((r) => r.seq < released.seq);
      if (JSON.stringify(before.map((r) => r.message.payload.items)) !== JSON.stringify([released.message.payload.items]))
        broken.push(
          `${sim.label(o.orderId)}: released ${JSON.stringify(released.message.payload.items)}, having reserved ${JSON.stringify(before.map((r) => r.message.payload.items))}`,
        );
    }
    const releases = publishedOf(sim, 'StockReleased').filter((r) => r.message.payload.orderId === o.orderId && r.message.payload.items.length > 0);
    if (releases.length > 1) broken.push(`${sim.label(o.orderId)}: stock released ${releases.length} times`);
  }

  // A terminal order stays terminal; CONFIRMED leaves only for CANCELLING, on a customer's cancel.
  for (const t of sim.transitions) {
    const label = sim.label(t.orderId);
    if (!allowed[t.from].includes(t.to)) broken.push(`${label} went ${t.from} → ${t.to} on ${t.by}`);
    if (t.from === 'CONFIRMED' && t.by !== 'CancelRequested') broken.push(`${label} left CONFIRMED on ${t.by}`);
  }

  // No message accepted twice: each service decides a message id once.
  const seen = new Set<string>();
  for (const d of sim.decided) {
    const key = `${d.service}/${d.message.messageId}`;
    if (seen.has(key)) broken.push(`${d.service} decided ${d.message.messageId} ${d.message.type} twice`);
    seen.add(key);
  }

  // Compensation complete before CANCELLED: when OrderCancelled is sent, every command sent before it has had its answer accepted by Order.
  // And nothing is compensated after the order was reported CANCELLED (it would be a charge or a reservation left behind meanwhile).
  for (const cancelled of publishedOf(sim, 'OrderCancelled')) {
    const orderId = cancelled.message.payload.orderId;
    const label = sim.label(orderId);
    for (const type of ['RefundPayment', 'ReleaseStock'] as const) {
      for (const command of publishedOf(sim, type).filter((c) => c.message.payload.orderId === orderId)) {
        if (command.seq > cancelled.seq) {
          broken.push(`${label}: ${command.message.messageId} ${type} sent after ${cancelled.message.messageId} OrderCancelled`);
          continue;
        }
        const answered = sim.decided.some(
          (d) => d.service === 'order' && d.accepted && d.seq < cancelled.seq && d.message.causationId === command.message.messageId,
        );
        if (!answered) broken.push(`${label}: ${cancelled.message.messageId} OrderCancelled sent before ${command.message.messageId} ${type} was answered`);
      }
    }
  }
  return broken;
}

/** Rules that hold once nothing is in flight. */
export function atQuiescence(sim: SagaSimulator): string[] {
  const broken: string[] = [];
  const { world } = sim;
  if (sim.pending.length > 0) broken.push(`${sim.pending.length} messages still in flight`);
  const status = (orderId: string) => sim.order.orders.get(orderId)?.state.status;

  for (const o of world.orders) {
    const label = sim.label(o.orderId);
    const state = sim.order.orders.get(o.orderId)?.state;
    if (!state) {
      broken.push(`${label} disappeared`);
      continue;
    }
    const payment = sim.payment.payments.get(o.orderId);
    const reservation = sim.inventory.reservations.get(o.orderId);
    const sent = (type: MessageType) => sim.published.filter((p) => p.message.type === type && p.message.payload.orderId === o.orderId).length;
    if (state.status === 'CONFIRMED') {
      if (payment?.status !== 'AUTHORIZED' || payment.amount !== o.total)
        broken.push(`${label} is CONFIRMED but its payment is ${payment ? `${payment.status} ${payment.amount}` : 'missing'}`);
      const lines = JSON.stringify(mergeLines(o.items.map((l) => ({ sku: l.sku, quantity: l.quantity }))));
      if (reservation?.status !== 'RESERVED' || JSON.stringify(reservation.items) !== lines)
        broken.push(`${label} is CONFIRMED but its reservation is ${reservation ? `${reservation.status} ${JSON.stringify(reservation.items)}` : 'missing'}`);
      if (sent('OrderConfirmed') !== 1) broken.push(`${label} is CONFIRMED, OrderConfirmed sent ${sent('OrderConfirmed')} times`);
    } else if (state.status === 'CANCELLED') {
      if (payment && (payment.status === 'AUTHORIZED' || (payment.status === 'REFUNDED' && payment.refundedAmount !== payment.amount)))
        broken.push(`${label} is CANCELLED but its payment is ${payment.status}, ${payment.refundedAmount} of ${payment.amount} refunded`);
      if (reservation?.status === 'RESERVED') broken.push(`${label} is CANCELLED but its stock is still RESERVED`);
      if (sent('OrderCancelled') !== 1) broken.push(`${label} is CANCELLED, OrderCancelled sent ${sent('OrderCancelled')} times`);
      const reason = publishedOf(sim, 'OrderCancelled').find((c) => c.message.payload.orderId === o.orderId)?.message.payload.reason;
      if (reason !== state.reason) broken.push(`${label} is CANCELLED for ${state.reason}, OrderCancelled says ${reason}`);
      if (state.reason === 'PAYMENT_DECLINED' && (payment?.status !== 'DECLINED' || payment.declineReason === 'ORDER_CANCELLED'))
        broken.push(`${label} cancelled as PAYMENT_DECLINED, but its payment is ${payment?.status ?? 'missing'} (${payment?.declineReason ?? '-'})`);
      if (state.reason === 'OUT_OF_STOCK' && reservation?.status !== 'FAILED')
        broken.push(`${label} cancelled as OUT_OF_STOCK, but its reservation is ${reservation?.status ?? 'missing'}`);
    } else {
      broken.push(`${label} ends ${state.status}, not terminal`);
    }
  }

  // Conservation against the outcome: a customer has paid exactly for their confirmed orders, a SKU holds exactly their lines.
  for (const initial of world.accounts) {
    const confirmed = sum(world.orders.filter((o) => o.customerId === initial.customerId && status(o.orderId) === 'CONFIRMED').map((o) => o.total));
    const balance = sim.payment.accounts.get(initial.customerId)?.balance;
    if (balance !== initial.balance - confirmed)
      broken.push(`${initial.customerId} has ${balance}; started ${initial.balance}, confirmed orders total ${confirmed}`);
  }
  for (const initial of world.stock) {
    const confirmed = sum(
      world.orders.filter((o) => status(o.orderId) === 'CONFIRMED').flatMap((o) => o.items.filter((l) => l.sku === initial.sku).map((l) => l.quantity)),
    );
    const level = sim.inventory.levels.get(initial.sku);
    if (level?.reserved !== confirmed || level.available !== initial.available - confirmed)
      broken.push(
        `${initial.sku} is ${level?.available} available + ${level?.reserved} reserved; started ${initial.available}, confirmed lines hold ${confirmed}`,
      );
  }

  // Every compensation answered exactly once, and each answer taken by Order exactly once.
  const targets = { RefundPayment: ['payment', 'PaymentRefunded'], ReleaseStock: ['inventory', 'StockReleased'] } as const;
  for (const type of ['RefundPayment', 'ReleaseStock'] as const) {
    const [service, answerType] = targets[type];
    for (const { message: command } of publishedOf(sim, type)) {
      const label = `${sim.label(command.payload.orderId)}: ${command.messageId} ${type}`;
      const decided = sim.decided.filter((d) => d.service === service && d.message.messageId === command.messageId);
      if (decided.length !== 1 || !decided[0].accepted)
        broken.push(`${label} decided ${decided.length} times by ${service}${decided[0]?.why ? ` (${decided[0].why})` : ''}`);
      const answers = sim.published.filter((p) => p.message.causationId === command.messageId);
      if (answers.length !== 1 || answers[0].message.type !== answerType)
        broken.push(`${label} answered by ${answers.map((a) => a.message.type).join(', ') || 'nothing'}, expected one ${answerType}`);
      for (const a of answers) {
        const taken = sim.decided.filter((d) => d.service === 'order' && d.message.messageId === a.message.messageId);
        if (taken.length !== 1) broken.push(`${label}: its answer ${a.message.messageId} was decided ${taken.length} times by order`);
      }
    }
  }
  return broken;
}
