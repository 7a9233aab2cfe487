import {
  createEnvelope,
  OrderCancelled,
  OrderConfirmed,
  OrderPlaced,
  PaymentAuthorized,
  SagaStepFailed,
  type CancellationReason,
  type Envelope,
} from '@app/contracts';
import { project, type OrderFact } from './order-facts.projection';

/** Given the events already seen for an order, when one more arrives, then the order's fact. */
const orderId = '0b7d3c4e-5f6a-4b8c-9d0e-1f2a3b4c5d6e';
const placedAt = '2025-11-22T10:00:00.000Z';
const confirmedAt = '2025-11-22T10:00:01.250Z';
const cancelledAt = '2025-11-22T10:00:30.000Z';
const order = { orderId, customerId: 'alice', total: 8900, currency: 'USD' };

const event = <P>(type: string, payload: P, at: string, source = 'order'): Envelope =>
  createEnvelope({ type, payload, key: orderId, source, occurredAt: new Date(at) });

const placed = event<OrderPlaced>(
  OrderPlaced.type,
  { ...order, items: [{ sku: 'KB-001', quantity: 1, unitPrice: 8900, lineTotal: 8900 }], email: null },
  placedAt,
);
const confirmed = event<OrderConfirmed>(OrderConfirmed.type, { ...order, placedAt }, confirmedAt);
const cancelled = (reason: CancellationReason, at = cancelledAt) => event<OrderCancelled>(OrderCancelled.type, { ...order, reason, placedAt }, at);
const paymentAuthorized = event<PaymentAuthorized>(
  PaymentAuthorized.type,
  {
    orderId,
    paymentId: '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d',
    customerId: 'alice',
    amount: 8900,
    currency: 'USD',
    items: [{ sku: 'KB-001', quantity: 1, unitPrice: 8900 }],
  },
  '2025-11-22T10:00:00.500Z',
  'payment',
);
const stepFailed = event<SagaStepFailed>(
  SagaStepFailed.type,
  { orderId, service: 'inventory', failedMessageId: 'm-1', failedMessageType: 'PaymentAuthorized', error: 'boom', attempts: 3 },
  cancelledAt,
  'inventory',
);

const pending: OrderFact = { ...order, status: 'PENDING', cancellationReason: null, placedAt, completedAt: null };
const confirmedFact: OrderFact = { ...pending, status: 'CONFIRMED', completedAt: confirmedAt };
const cancelledFact = (reason: CancellationReason): OrderFact => ({ ...pending, status: 'CANCELLED', cancellationReason: reason, completedAt: cancelledAt });

function replay(events: Envelope[]): OrderFact | null {
  return events.reduce<OrderFact | null>((fact, e) => project(fact, e) ?? fact, null);
}

interface Row {
  it: string;
  given: Envelope[];
  when: Envelope;
  then: OrderFact | null;
}

const table: Row[] = [
  // in order
  { it: 'when an order is placed, it is PENDING with its customer, total and placing time', given: [], when: placed, then: pending },
  { it: 'when a placed order is confirmed, it is CONFIRMED, completed when the confirmation occurred', given: [placed], when: confirmed, then: confirmedFact },
  {
    it: 'when a placed order is cancelled, it is CANCELLED with the reason, completed when the cancellation occurred',
    given: [placed],
    when: cancelled('OUT_OF_STOCK'),
    then: cancelledFact('OUT_OF_STOCK'),
  },
  {
    it: 'when a confirmed order is cancelled by the customer, it is CANCELLED, completed at the cancellation',
    given: [placed, confirmed],
    when: cancelled('CUSTOMER_REQUEST'),
    then: cancelledFact('CUSTOMER_REQUEST'),
  },

  // out of order
  {
    it: 'when the confirmation arrives before the placement, it is CONFIRMED with every field taken from the confirmation',
    given: [],
    when: confirmed,
    then: confirmedFact,
  },
  {
    it: 'when the cancellation arrives before the placement, it is CANCELLED with every field taken from the cancellation',
    given: [],
    when: cancelled('TIMEOUT'),
    then: cancelledFact('TIMEOUT'),
  },
  { it: 'when the placement arrives after the confirmation, it stays CONFIRMED', given: [confirmed], when: placed, then: confirmedFact },
  {
    it: 'when the placement arrives after the cancellation, it stays CANCELLED with its reason',
    given: [cancelled('PAYMENT_DECLINED')],
    when: placed,
    then: cancelledFact('PAYMENT_DECLINED'),
  },
  {
    it: 'when an old confirmation arrives after the cancellation, it stays CANCELLED and keeps the cancellation time',
    given: [placed, cancelled('CUSTOMER_REQUEST')],
    when: confirmed,
    then: cancelledFact('CUSTOMER_REQUEST'),
  },

  // duplicates
  { it: 'when the placement is delivered twice, the second changes nothing', given: [placed], when: placed, then: pending },
  { it: 'when the confirmation is delivered twice, it keeps the first completion', given: [placed, confirmed], when: confirmed, then: confirmedFact },
  {
    it: 'when a second cancellation arrives later, it keeps the first reason and completion',
    given: [placed, cancelled('TIMEOUT')],
    when: cancelled('PROCESSING_FAILED', '2025-11-22T10:01:00.000Z'),
    then: cancelledFact('TIMEOUT'),
  },

  // not order events
  { it: 'when a payment event arrives, there is nothing to project', given: [placed], when: paymentAuthorized, then: null },
  { it: 'when a saga step fails, there is nothing to project (the OrderCancelled that follows says it)', given: [placed], when: stepFailed, then: null },
];

describe('order facts projection', () => {
  it.each(table.map((r) => [r.it, r] as const))('%s', (_, row) => {
    expect(project(replay(row.given), row.when)).toEqual(row.then);
  });

  it('gives the same fact whatever order the events arrive in, and however often', () => {
    const histories = [
      { events: [placed, confirmed], then: confirmedFact },
      { events: [placed, cancelled('OUT_OF_STOCK')], then: cancelledFact('OUT_OF_STOCK') },
      { events: [placed, confirmed, cancelled('CUSTOMER_REQUEST')], then: cancelledFact('CUSTOMER_REQUEST') },
    ];
    for (const h of histories) {
      for (const order of permutations(h.events)) {
        expect(replay(order)).toEqual(h.then);
        expect(replay(order.flatMap((e) => [e, e]))).toEqual(h.then);
      }
    }
  });

  it('never takes a terminal order back to PENDING, whatever arrives', () => {
    for (const terminal of [confirmedFact, cancelledFact('TIMEOUT')]) {
      for (const e of [placed, confirmed, cancelled('TIMEOUT'), paymentAuthorized, stepFailed]) {
        expect(project(terminal, e)?.status ?? terminal.status).not.toBe('PENDING');
      }
    }
  });

  it('does not mutate the fact it is given', () => {
    const before = Object.freeze({ ...pending });
    expect(() => project(before, confirmed)).not.toThrow();
    expect(before).toEqual(pending);
  });

  it("refuses to fold an event into another order's fact", () => {
    expect(() => project({ ...pending, orderId: '11111111-2222-4333-8444-555555555555' }, confirmed)).toThrow(/given an event for/);
  });
});

function permutations<T>(items: T[]): T[][] {
  if (items.length <= 1) return [items];
  return items.flatMap((item, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]));
}
