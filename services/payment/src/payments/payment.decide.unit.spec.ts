import type { OrderPlaced, RefundPayment } from '@app/contracts';
import { specify } from '../../../../test/support/decider-spec';
import { decide, payments, type Account, type Payment, type PaymentInput, type PaymentSituation } from './payment.decide';

/** What a case expects: the changes to the situation, the charge asked of the gateway, what is sent. */
type Expected =
  | {
      accepted: true;
      changes: Partial<PaymentSituation>;
      charge?: number;
      send: Array<Exclude<ReturnType<typeof decide> & { accepted: true }, never>['send'][number]>;
    }
  | { accepted: false; why: string; unprocessable?: boolean };

const orderId = '8f0c2a0e-6c1b-4a4e-9d5e-2f8e7a1b3c4d';
const paymentId = '1d2e3f40-5a6b-4c7d-8e9f-0a1b2c3d4e5f';
const newPaymentId = 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee';
const items = [
  { sku: 'KB-001', quantity: 1, unitPrice: 8900, lineTotal: 8900 },
  { sku: 'CB-005', quantity: 2, unitPrice: 990, lineTotal: 1980 },
];
const total = 10_880;

const orderPlaced = (over: Partial<OrderPlaced> = {}): PaymentInput => ({
  type: 'OrderPlaced',
  payload: { orderId, customerId: 'alice', items, total, currency: 'USD', email: null, ...over },
  newPaymentId,
});
const refundPayment = (reason: RefundPayment['reason'] = 'OUT_OF_STOCK'): PaymentInput => ({
  type: 'RefundPayment',
  payload: { orderId, reason },
  newPaymentId,
});

const account = (balance: number): Account => ({ customerId: 'alice', balance });
const payment = (over: Partial<Payment>): Payment => ({
  id: paymentId,
  orderId,
  customerId: 'alice',
  amount: total,
  currency: 'USD',
  status: 'AUTHORIZED',
  declineReason: null,
  refundedAmount: 0,
  ...over,
});
const tombstone = (over: Partial<Payment> = {}): Payment => payment({ customerId: null, amount: 0, currency: null, status: 'VOIDED', ...over });
const given = (p: Payment | null, a: Account | null): PaymentSituation => ({ payment: p, account: a });

interface Case {
  name: string;
  given: PaymentSituation;
  when: PaymentInput;
  then: Expected;
}

const cases: Case[] = [
  // OrderPlaced
  {
    name: 'when the balance covers the total, it debits the account, authorizes through the gateway and sends PaymentAuthorized with the order lines',
    given: given(null, account(100_000)),
    when: orderPlaced(),
    then: {
      accepted: true,
      changes: {
        payment: {
          id: newPaymentId,
          orderId,
          customerId: 'alice',
          amount: total,
          currency: 'USD',
          status: 'AUTHORIZED',
          declineReason: null,
          refundedAmount: 0,
        },
        account: account(100_000 - total),
      },
      charge: total,
      send: [{ type: 'PaymentAuthorized', payload: { orderId, paymentId: newPaymentId, customerId: 'alice', amount: total, currency: 'USD', items } }],
    },
  },
  {
    name: 'when the balance equals the total exactly, it authorizes and leaves the account at zero',
    given: given(null, account(total)),
    when: orderPlaced(),
    then: {
      accepted: true,
      changes: { payment: payment({ id: newPaymentId }), account: account(0) },
      charge: total,
      send: [{ type: 'PaymentAuthorized', payload: { orderId, paymentId: newPaymentId, customerId: 'alice', amount: total, currency: 'USD', items } }],
    },
  },
  {
    name: 'when the balance does not cover the total, it declines with INSUFFICIENT_FUNDS and moves no money',
    given: given(null, account(total - 1)),
    when: orderPlaced(),
    then: {
      accepted: true,
      changes: { payment: payment({ id: newPaymentId, status: 'DECLINED', declineReason: 'INSUFFICIENT_FUNDS' }) },
      send: [{ type: 'PaymentDeclined', payload: { orderId, customerId: 'alice', amount: total, reason: 'INSUFFICIENT_FUNDS' } }],
    },
  },
  {
    name: 'when the customer has no account, it declines with UNKNOWN_CUSTOMER and moves no money',
    given: given(null, null),
    when: orderPlaced(),
    then: {
      accepted: true,
      changes: { payment: payment({ id: newPaymentId, status: 'DECLINED', declineReason: 'UNKNOWN_CUSTOMER' }) },
      send: [{ type: 'PaymentDeclined', payload: { orderId, customerId: 'alice', amount: total, reason: 'UNKNOWN_CUSTOMER' } }],
    },
  },
  {
    name: 'when the order arrives after its refund (a VOIDED tombstone), it declines with ORDER_CANCELLED, keeps the tombstone and moves no money',
    given: given(tombstone(), account(100_000)),
    when: orderPlaced(),
    then: {
      accepted: true,
      changes: { payment: tombstone({ customerId: 'alice', amount: total, currency: 'USD', declineReason: 'ORDER_CANCELLED' }) },
      send: [{ type: 'PaymentDeclined', payload: { orderId, customerId: 'alice', amount: total, reason: 'ORDER_CANCELLED' } }],
    },
  },
  {
    name: 'when a late OrderPlaced was already declined against the tombstone, it does not accept it again',
    given: given(tombstone({ customerId: 'alice', amount: total, currency: 'USD', declineReason: 'ORDER_CANCELLED' }), account(100_000)),
    when: orderPlaced(),
    then: { accepted: false, why: 'the order was cancelled and its late OrderPlaced already declined' },
  },
  {
    name: 'when the payment was already authorized (a repeated OrderPlaced), it does not accept it and charges nothing twice',
    given: given(payment({}), account(100_000 - total)),
    when: orderPlaced(),
    then: { accepted: false, why: 'payment for the order is already AUTHORIZED' },
  },
  {
    name: 'when the payment was already declined, it does not accept a repeated OrderPlaced',
    given: given(payment({ status: 'DECLINED', declineReason: 'INSUFFICIENT_FUNDS' }), account(100_000)),
    when: orderPlaced(),
    then: { accepted: false, why: 'payment for the order is already DECLINED' },
  },
  {
    name: 'when the payment was already refunded, it does not accept a repeated OrderPlaced',
    given: given(payment({ status: 'REFUNDED', refundedAmount: total }), account(100_000)),
    when: orderPlaced(),
    then: { accepted: false, why: 'payment for the order is already REFUNDED' },
  },
  {
    name: 'when the order is in a currency the accounts are not kept in, it refuses it as unprocessable',
    given: given(null, account(100_000)),
    when: orderPlaced({ currency: 'EUR' }),
    then: { accepted: false, why: 'accounts are kept in USD; cannot charge EUR', unprocessable: true },
  },
  // RefundPayment
  {
    name: 'when the payment is authorized, it credits the amount back, marks it REFUNDED and answers with the amount',
    given: given(payment({}), account(100_000 - total)),
    when: refundPayment('OUT_OF_STOCK'),
    then: {
      accepted: true,
      changes: { payment: payment({ status: 'REFUNDED', refundedAmount: total }), account: account(100_000) },
      send: [{ type: 'PaymentRefunded', payload: { orderId, customerId: 'alice', amount: total, reason: 'OUT_OF_STOCK' } }],
    },
  },
  {
    name: 'when the refund arrives before the order, it leaves a VOIDED tombstone and answers with amount 0 and no customer',
    given: given(null, null),
    when: refundPayment('TIMEOUT'),
    then: {
      accepted: true,
      changes: {
        payment: { id: newPaymentId, orderId, customerId: null, amount: 0, currency: null, status: 'VOIDED', declineReason: null, refundedAmount: 0 },
      },
      send: [{ type: 'PaymentRefunded', payload: { orderId, customerId: null, amount: 0, reason: 'TIMEOUT' } }],
    },
  },
  {
    name: 'when the payment was already refunded (a repeated refund), it answers with amount 0 and moves nothing',
    given: given(payment({ status: 'REFUNDED', refundedAmount: total }), account(100_000)),
    when: refundPayment('CUSTOMER_REQUEST'),
    then: {
      accepted: true,
      changes: {},
      send: [{ type: 'PaymentRefunded', payload: { orderId, customerId: 'alice', amount: 0, reason: 'CUSTOMER_REQUEST' } }],
    },
  },
  {
    name: 'when the payment was declined, it answers with amount 0 and moves nothing',
    given: given(payment({ status: 'DECLINED', declineReason: 'INSUFFICIENT_FUNDS' }), account(100)),
    when: refundPayment('PROCESSING_FAILED'),
    then: {
      accepted: true,
      changes: {},
      send: [{ type: 'PaymentRefunded', payload: { orderId, customerId: 'alice', amount: 0, reason: 'PROCESSING_FAILED' } }],
    },
  },
  {
    name: 'when the order is already voided (a second refund before the order), it answers with amount 0 and keeps the one tombstone',
    given: given(tombstone(), null),
    when: refundPayment('TIMEOUT'),
    then: { accepted: true, changes: {}, send: [{ type: 'PaymentRefunded', payload: { orderId, customerId: null, amount: 0, reason: 'TIMEOUT' } }] },
  },
  {
    name: "when the authorized payment's account no longer exists, the refund re-opens it with the amount rather than lose the money",
    given: given(payment({}), null),
    when: refundPayment('CUSTOMER_REQUEST'),
    then: {
      accepted: true,
      changes: { payment: payment({ status: 'REFUNDED', refundedAmount: total }), account: account(total) },
      send: [{ type: 'PaymentRefunded', payload: { orderId, customerId: 'alice', amount: total, reason: 'CUSTOMER_REQUEST' } }],
    },
  },
];

const spec = specify(payments);
const escape = (s: string) => new RegExp(`^${s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);

describe('payment decide', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const when = spec.given(c.given).when(c.when);
    if (!c.then.accepted) return when.thenRejects(escape(c.then.why), { unprocessable: c.then.unprocessable });
    when.then({ payment: c.then.changes.payment ?? c.given.payment, account: c.then.changes.account ?? c.given.account }, [
      ...(c.then.charge !== undefined ? [{ type: 'Charge' as const, amount: c.then.charge }] : []),
      ...c.then.send,
    ]);
  });

  it('never mutates the situation it is given', () => {
    const situation = given(payment({}), account(500));
    const copy = structuredClone(situation);
    decide(situation, refundPayment());
    decide(situation, orderPlaced());
    expect(situation).toEqual(copy);
  });
});

/** Applies decisions one after another, as the handler would save them. */
function play(start: PaymentSituation, inputs: PaymentInput[]) {
  let s = start;
  const sent: Array<{ type: string; amount?: number; reason?: string }> = [];
  const ignored: string[] = [];
  for (const input of inputs) {
    const d = decide(s, input);
    if (!d.accepted) {
      ignored.push(d.why);
      continue;
    }
    s = d.state;
    for (const m of d.send) {
      if (m.type === 'Charge') continue;
      sent.push({ type: m.type, amount: m.payload.amount, ...('reason' in m.payload ? { reason: m.payload.reason } : {}) });
    }
  }
  return { state: s, sent, ignored };
}

describe('payment sequences (duplicates and out-of-order delivery)', () => {
  it('when the order is placed and then refunded twice, the money goes back exactly once and both refunds are answered', () => {
    const r = play(given(null, account(100_000)), [orderPlaced(), refundPayment(), refundPayment()]);
    expect(r.state.account).toEqual(account(100_000));
    expect(r.state.payment).toMatchObject({ status: 'REFUNDED', refundedAmount: total });
    expect(r.sent).toEqual([
      { type: 'PaymentAuthorized', amount: total },
      { type: 'PaymentRefunded', amount: total, reason: 'OUT_OF_STOCK' },
      { type: 'PaymentRefunded', amount: 0, reason: 'OUT_OF_STOCK' },
    ]);
  });

  it('when the refund overtakes the order, the late order is declined ORDER_CANCELLED and no money moves at all', () => {
    const r = play(given(null, account(100_000)), [refundPayment('TIMEOUT'), orderPlaced(), orderPlaced(), refundPayment('TIMEOUT')]);
    expect(r.state.account).toEqual(account(100_000));
    expect(r.state.payment).toMatchObject({ status: 'VOIDED', declineReason: 'ORDER_CANCELLED', refundedAmount: 0 });
    expect(r.sent).toEqual([
      { type: 'PaymentRefunded', amount: 0, reason: 'TIMEOUT' },
      { type: 'PaymentDeclined', amount: total, reason: 'ORDER_CANCELLED' },
      { type: 'PaymentRefunded', amount: 0, reason: 'TIMEOUT' },
    ]);
    expect(r.ignored).toEqual(['the order was cancelled and its late OrderPlaced already declined']);
  });

  it('when an order is placed twice, it is charged once', () => {
    const r = play(given(null, account(100_000)), [orderPlaced(), orderPlaced()]);
    expect(r.state.account).toEqual(account(100_000 - total));
    expect(r.sent.map((m) => m.type)).toEqual(['PaymentAuthorized']);
    expect(r.ignored).toEqual(['payment for the order is already AUTHORIZED']);
  });

  it('when a declined order is refunded, the refund is answered with 0 and the balance is untouched', () => {
    const r = play(given(null, account(100)), [orderPlaced(), refundPayment('PROCESSING_FAILED')]);
    expect(r.state.account).toEqual(account(100));
    expect(r.sent).toEqual([
      { type: 'PaymentDeclined', amount: total, reason: 'INSUFFICIENT_FUNDS' },
      { type: 'PaymentRefunded', amount: 0, reason: 'PROCESSING_FAILED' },
    ]);
  });
});
