import fc from 'fast-check';
import { CURRENCY, type CancellationReason, type OrderPlaced } from '@app/contracts';
import { contractViolation, message, uuid, type Message } from '../../../../test/support/model/messages';
import { propertyParams, seed } from '../../../../test/support/model/params';
import { paymentInputOf, PaymentLedger, type PaymentMessage } from '../../../../test/support/model/services';
import type { Account } from './payment.decide';

/**
 * Payment's decide function, searched: random sequences of OrderPlaced and RefundPayment for a
 * few orders of a few customers, in any order, some delivered again with the same message id
 * (the inbox drops them), some delivered again after their inbox record expired (the decide
 * function sees them twice), and some sent again by Order under a new id. Driven as
 * payment.handlers.ts drives it (test/support/model/services.ts). After every message:
 *
 * - no balance is ever negative, and money is conserved: initial = balance + charged − refunded,
 *   and every unit that left an account is held by an AUTHORIZED payment;
 * - an order is charged at most once, for its total, and refunded at most what was charged;
 * - a refund that overtook its order leaves nothing to charge later;
 * - every RefundPayment decided is answered by exactly one PaymentRefunded;
 * - each order's first OrderPlaced is answered once, authorized or declined for the right reason;
 * - every message sent satisfies its contract.
 */
interface World {
  accounts: Account[];
  orders: OrderPlaced[];
}

type Step =
  | { send: 'OrderPlaced'; order: number }
  | { send: 'RefundPayment'; order: number; reason: CancellationReason }
  | { again: 'duplicate' | 'expired'; pick: number };

const reasons: CancellationReason[] = ['OUT_OF_STOCK', 'CUSTOMER_REQUEST', 'TIMEOUT', 'PROCESSING_FAILED'];

const worlds: fc.Arbitrary<World> = fc
  .record({
    balances: fc.array(fc.oneof({ weight: 5, arbitrary: fc.integer({ min: 0, max: 300 }) }, { weight: 1, arbitrary: fc.constant(null) }), {
      minLength: 1,
      maxLength: 2,
    }),
    orders: fc.array(fc.record({ customer: fc.nat({ max: 2 }), total: fc.oneof(fc.integer({ min: 1, max: 200 }), fc.constant(0)) }), {
      minLength: 1,
      maxLength: 3,
    }),
  })
  .map(({ balances, orders }) => ({
    accounts: balances.flatMap((b, i) => (b === null ? [] : [{ customerId: `c${i + 1}`, balance: b }])),
    orders: orders.map((o, i) => ({
      orderId: uuid(i + 1),
      customerId: `c${(o.customer % balances.length) + 1}`,
      items: [{ sku: 'A', quantity: 1, unitPrice: o.total, lineTotal: o.total }],
      total: o.total,
      currency: CURRENCY,
      email: null,
    })),
  }));

const steps: fc.Arbitrary<Step[]> = fc.array(
  fc.oneof(
    { weight: 4, arbitrary: fc.nat({ max: 2 }).map((order): Step => ({ send: 'OrderPlaced', order })) },
    { weight: 3, arbitrary: fc.record({ order: fc.nat({ max: 2 }), reason: fc.constantFrom(...reasons) }).map((r): Step => ({ send: 'RefundPayment', ...r })) },
    { weight: 2, arbitrary: fc.record({ again: fc.constantFrom('duplicate' as const, 'expired' as const), pick: fc.nat({ max: 20 }) }) },
  ),
  { maxLength: 25 },
);

interface Sent {
  cause: PaymentMessage;
  message: Message;
}

function play(world: World, script: readonly Step[]) {
  const ledger = new PaymentLedger(world.accounts);
  const inbox = new Set<string>();
  const received: PaymentMessage[] = [];
  const sent: Sent[] = [];
  const charges: Array<{ orderId: string; amount: number }> = [];
  const log: string[] = [`accounts ${JSON.stringify(world.accounts)}`, ...world.orders.map((o, i) => `o${i + 1}: ${o.customerId} total ${o.total}`)];
  const broken: string[] = [];
  let ids = 0;
  const labelOf = (orderId: string) => `o${world.orders.findIndex((o) => o.orderId === orderId) + 1}`;

  const check = (m: PaymentMessage, balanceBefore: number | null, decided: ReturnType<PaymentLedger['handle']>, hadHistory: boolean) => {
    const orderId = m.payload.orderId;
    const label = labelOf(orderId);
    const answers = decided.accepted ? decided.replies : [];
    if (m.type === 'RefundPayment') {
      if (!decided.accepted || answers.length !== 1 || answers[0].type !== 'PaymentRefunded')
        broken.push(`${label}: ${m.messageId} RefundPayment not answered once`);
      else if (answers[0].payload.orderId !== orderId || answers[0].payload.reason !== m.payload.reason)
        broken.push(`${label}: RefundPayment answered for ${answers[0].payload.orderId}/${answers[0].payload.reason}`);
    } else {
      const order = m.payload;
      const answer = answers[0];
      if (!hadHistory) {
        // The first word Payment hears of this order: it must answer, and for the right reason.
        if (!decided.accepted || answers.length !== 1) broken.push(`${label}: first OrderPlaced answered by ${JSON.stringify(answers)}`);
        else if (answer.type === 'PaymentAuthorized' && (balanceBefore === null || balanceBefore < order.total))
          broken.push(`${label}: authorized ${order.total} on a balance of ${balanceBefore}`);
        else if (answer.type === 'PaymentDeclined') {
          const expected = balanceBefore === null ? 'UNKNOWN_CUSTOMER' : balanceBefore < order.total ? 'INSUFFICIENT_FUNDS' : 'a charge';
          if (answer.payload.reason !== expected)
            broken.push(`${label}: declined ${answer.payload.reason} on a balance of ${balanceBefore}, expected ${expected}`);
        }
      }
    }
  };

  const deliver = (m: PaymentMessage, bypassInbox: boolean) => {
    if (!bypassInbox && inbox.has(m.messageId)) {
      log.push(`${m.messageId} ${m.type}: duplicate, dropped`);
      return;
    }
    inbox.add(m.messageId);
    const orderId = m.payload.orderId;
    const customerId = world.orders.find((o) => o.orderId === orderId)?.customerId ?? '';
    const balanceBefore = ledger.accounts.get(customerId)?.balance ?? null;
    const hadHistory = ledger.payments.has(orderId);
    const decided = ledger.handle(paymentInputOf(m, uuid(1000 + ++ids)));
    if (decided.accepted) {
      for (const amount of decided.charges) charges.push({ orderId, amount });
      for (const reply of decided.replies) sent.push({ cause: m, message: PaymentLedger.messageFor(reply, `r${++ids}`, m.messageId) });
    }
    log.push(
      `${m.messageId} ${m.type}${bypassInbox ? ' (inbox expired)' : ''} ${labelOf(m.payload.orderId)}: ${
        decided.accepted
          ? `${ledger.payments.get(orderId)?.status}, sends ${decided.replies.map((r) => r.type).join(', ') || 'nothing'}`
          : `not applied (${decided.why})`
      }`,
    );
    check(m, balanceBefore, decided, hadHistory);
  };

  const invariants = () => {
    for (const initial of world.accounts) {
      const a = ledger.accounts.get(initial.customerId);
      if (!a) {
        broken.push(`${initial.customerId}'s account disappeared`);
        continue;
      }
      if (a.balance < 0) broken.push(`${a.customerId}'s balance is negative: ${a.balance}`);
      const mine = (orderId: string) => world.orders.find((o) => o.orderId === orderId)?.customerId === a.customerId;
      const charged = charges.filter((c) => mine(c.orderId)).reduce((t, c) => t + c.amount, 0);
      const refunded = sent
        .flatMap((s) => (s.message.type === 'PaymentRefunded' && mine(s.message.payload.orderId) ? [s.message.payload.amount] : []))
        .reduce((t, n) => t + n, 0);
      if (initial.balance !== a.balance + charged - refunded)
        broken.push(`money not conserved for ${a.customerId}: started ${initial.balance}, has ${a.balance}, charged ${charged}, refunded ${refunded}`);
      const held = [...ledger.payments.values()].filter((p) => p.customerId === a.customerId && p.status === 'AUTHORIZED').reduce((t, p) => t + p.amount, 0);
      if (initial.balance !== a.balance + held) broken.push(`${a.customerId}: ${initial.balance} ≠ balance ${a.balance} + held ${held}`);
    }
    for (const customerId of ledger.accounts.keys())
      if (!world.accounts.some((a) => a.customerId === customerId)) broken.push(`an account appeared for ${customerId}`);
    for (const o of world.orders) {
      const mine = charges.filter((c) => c.orderId === o.orderId);
      if (mine.length > 1) broken.push(`${o.orderId} charged ${mine.length} times`);
      if (mine.some((c) => c.amount !== o.total)) broken.push(`${o.orderId} charged other than its total`);
      const refunded = sent.reduce(
        (t, s) => t + (s.message.type === 'PaymentRefunded' && s.message.payload.orderId === o.orderId ? s.message.payload.amount : 0),
        0,
      );
      if (refunded > mine.reduce((t, c) => t + c.amount, 0)) broken.push(`${o.orderId} refunded ${refunded}, more than it was charged`);
      const answers = sent.filter(
        (s) => s.message.payload.orderId === o.orderId && (s.message.type === 'PaymentAuthorized' || s.message.type === 'PaymentDeclined'),
      );
      if (answers.length > 1) broken.push(`${o.orderId}: OrderPlaced answered ${answers.length} times (${answers.map((a) => a.message.type).join(', ')})`);
      // A refund that overtook the order wins: nothing is charged after Payment first heard of a refund for it.
      const firstRefund = received.findIndex((m) => m.type === 'RefundPayment' && m.payload.orderId === o.orderId);
      const firstPlaced = received.findIndex((m) => m.type === 'OrderPlaced' && m.payload.orderId === o.orderId);
      if (firstRefund >= 0 && (firstPlaced < 0 || firstRefund < firstPlaced) && mine.length > 0)
        broken.push(`${o.orderId} charged after its refund overtook it`);
    }
    for (const s of sent) {
      const v = contractViolation(s.message);
      if (v) broken.push(`${s.message.type} breaks its contract: ${v}`);
    }
  };

  for (const step of script) {
    if ('send' in step) {
      const o = world.orders[step.order % world.orders.length];
      const m: PaymentMessage =
        step.send === 'OrderPlaced'
          ? message('OrderPlaced', o, 'order', `m${++ids}`, null)
          : message('RefundPayment', { orderId: o.orderId, reason: step.reason }, 'order', `m${++ids}`, null);
      received.push(m);
      deliver(m, false);
    } else if (received.length > 0) {
      deliver(received[step.pick % received.length], step.again === 'expired');
    }
    invariants();
  }
  return { ledger, sent, charges, log, broken };
}

describe(`payment decisions over random message sequences (seed ${seed})`, () => {
  it('never overdraws, conserves money, charges once, refunds at most what was charged and answers every refund', () => {
    fc.assert(
      fc.property(worlds, steps, (world, script) => {
        const r = play(world, script);
        if (r.broken.length) throw new Error(`${[...new Set(r.broken)].join('\n')}\n\nlog:\n${r.log.join('\n')}`);
      }),
      propertyParams(500),
    );
  });

  it('leaves nothing held once every order has been refunded, whatever came before', () => {
    fc.assert(
      fc.property(worlds, steps, (world, script) => {
        const refundAll: Step[] = world.orders.map((_, order) => ({ send: 'RefundPayment', order, reason: 'CUSTOMER_REQUEST' }));
        const r = play(world, [...script, ...refundAll]);
        const held = [...r.ledger.payments.values()].filter((p) => p.status === 'AUTHORIZED');
        const wrong = world.accounts.filter((a) => r.ledger.accounts.get(a.customerId)?.balance !== a.balance);
        if (r.broken.length || held.length || wrong.length)
          throw new Error(
            `${[...new Set(r.broken)].join('\n')}\nstill authorized: ${held.map((p) => p.orderId).join(', ') || 'none'}; balances not back: ${wrong.map((a) => a.customerId).join(', ') || 'none'}\n\nlog:\n${r.log.join('\n')}`,
          );
      }),
      propertyParams(300),
    );
  });
});
