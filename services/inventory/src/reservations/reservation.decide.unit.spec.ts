import { StockReleased, StockReservationFailed, StockReserved } from '@app/contracts';
import { specify } from '../../../../test/support/decider-spec';
import {
  decide,
  mergeLines,
  reservations,
  skusToLock,
  type Decision,
  type InventoryInput,
  type InventoryOutput,
  type InventoryState,
  type Reservation,
  type StockLevel,
} from './reservation.decide';

/** What a case expects: the reservation to store (absent: as it was), the stock rows that move, what is sent. */
type Expected = { accepted: true; reservation?: Reservation; stock: StockLevel[]; send: InventoryOutput[] } | { accepted: false; why: string };

const orderId = '0b7c1d52-3f7e-4a8e-9b1a-2f6c8d4e5a10';
const kb = (available: number, reserved = 0): StockLevel => ({ sku: 'KB-001', available, reserved });
const ms = (available: number, reserved = 0): StockLevel => ({ sku: 'MS-002', available, reserved });

const paymentAuthorized = (...items: Array<[string, number]>): InventoryInput => ({
  type: 'PaymentAuthorized',
  orderId,
  items: items.map(([sku, quantity]) => ({ sku, quantity })),
});
const releaseStock: InventoryInput = { type: 'ReleaseStock', orderId, reason: 'CUSTOMER_REQUEST' };

const reserved: Reservation = {
  status: 'RESERVED',
  items: [
    { sku: 'KB-001', quantity: 2 },
    { sku: 'MS-002', quantity: 1 },
  ],
  shortages: null,
};
const failed: Reservation = { status: 'FAILED', items: [{ sku: 'KB-001', quantity: 5 }], shortages: [{ sku: 'KB-001', requested: 5, available: 1 }] };
const released: Reservation = { ...reserved, status: 'RELEASED' };
const voided: Reservation = { status: 'VOIDED', items: [], shortages: null };

const nothingReleased: InventoryOutput = { type: 'StockReleased', payload: { orderId, items: [], reason: 'CUSTOMER_REQUEST' } };

interface Case {
  name: string;
  given: InventoryState;
  when: InventoryInput;
  then: Expected;
}

const cases: Case[] = [
  // PaymentAuthorized, first time
  {
    name: 'when every line fits, it reserves every line and reports StockReserved',
    given: { reservation: null, stock: [kb(10), ms(5, 1)] },
    when: paymentAuthorized(['KB-001', 2], ['MS-002', 1]),
    then: {
      accepted: true,
      reservation: {
        status: 'RESERVED',
        items: [
          { sku: 'KB-001', quantity: 2 },
          { sku: 'MS-002', quantity: 1 },
        ],
        shortages: null,
      },
      stock: [kb(8, 2), ms(4, 2)],
      send: [
        {
          type: 'StockReserved',
          payload: {
            orderId,
            items: [
              { sku: 'KB-001', quantity: 2 },
              { sku: 'MS-002', quantity: 1 },
            ],
          },
        },
      ],
    },
  },
  {
    name: 'when a line takes exactly what is available, it reserves it down to zero',
    given: { reservation: null, stock: [kb(3)] },
    when: paymentAuthorized(['KB-001', 3]),
    then: {
      accepted: true,
      reservation: { status: 'RESERVED', items: [{ sku: 'KB-001', quantity: 3 }], shortages: null },
      stock: [kb(0, 3)],
      send: [{ type: 'StockReserved', payload: { orderId, items: [{ sku: 'KB-001', quantity: 3 }] } }],
    },
  },
  {
    name: 'when one line is short, it reserves nothing and reports which SKUs',
    given: { reservation: null, stock: [kb(10), ms(1)] },
    when: paymentAuthorized(['KB-001', 2], ['MS-002', 4]),
    then: {
      accepted: true,
      reservation: {
        status: 'FAILED',
        items: [
          { sku: 'KB-001', quantity: 2 },
          { sku: 'MS-002', quantity: 4 },
        ],
        shortages: [{ sku: 'MS-002', requested: 4, available: 1 }],
      },
      stock: [],
      send: [
        { type: 'StockReservationFailed', payload: { orderId, reason: 'INSUFFICIENT_STOCK', shortages: [{ sku: 'MS-002', requested: 4, available: 1 }] } },
      ],
    },
  },
  {
    name: 'when several lines are short, it reports every one of them',
    given: { reservation: null, stock: [kb(1), ms(0)] },
    when: paymentAuthorized(['KB-001', 2], ['MS-002', 1]),
    then: {
      accepted: true,
      reservation: {
        status: 'FAILED',
        items: [
          { sku: 'KB-001', quantity: 2 },
          { sku: 'MS-002', quantity: 1 },
        ],
        shortages: [
          { sku: 'KB-001', requested: 2, available: 1 },
          { sku: 'MS-002', requested: 1, available: 0 },
        ],
      },
      stock: [],
      send: [
        {
          type: 'StockReservationFailed',
          payload: {
            orderId,
            reason: 'INSUFFICIENT_STOCK',
            shortages: [
              { sku: 'KB-001', requested: 2, available: 1 },
              { sku: 'MS-002', requested: 1, available: 0 },
            ],
          },
        },
      ],
    },
  },
  {
    name: 'when a SKU is unknown, it counts as none available and nothing is reserved',
    given: { reservation: null, stock: [kb(10)] },
    when: paymentAuthorized(['KB-001', 1], ['NOPE-9', 1]),
    then: {
      accepted: true,
      reservation: {
        status: 'FAILED',
        items: [
          { sku: 'KB-001', quantity: 1 },
          { sku: 'NOPE-9', quantity: 1 },
        ],
        shortages: [{ sku: 'NOPE-9', requested: 1, available: 0 }],
      },
      stock: [],
      send: [
        { type: 'StockReservationFailed', payload: { orderId, reason: 'INSUFFICIENT_STOCK', shortages: [{ sku: 'NOPE-9', requested: 1, available: 0 }] } },
      ],
    },
  },
  {
    name: 'when a SKU appears on two lines, it sums them before checking, and each line alone would fit',
    given: { reservation: null, stock: [kb(5)] },
    when: paymentAuthorized(['KB-001', 3], ['KB-001', 3]),
    then: {
      accepted: true,
      reservation: { status: 'FAILED', items: [{ sku: 'KB-001', quantity: 6 }], shortages: [{ sku: 'KB-001', requested: 6, available: 5 }] },
      stock: [],
      send: [
        { type: 'StockReservationFailed', payload: { orderId, reason: 'INSUFFICIENT_STOCK', shortages: [{ sku: 'KB-001', requested: 6, available: 5 }] } },
      ],
    },
  },
  {
    name: 'when a SKU appears on two lines and their sum fits, it reserves the sum as one line',
    given: { reservation: null, stock: [kb(10), ms(10)] },
    when: paymentAuthorized(['KB-001', 2], ['MS-002', 1], ['KB-001', 3]),
    then: {
      accepted: true,
      reservation: {
        status: 'RESERVED',
        items: [
          { sku: 'KB-001', quantity: 5 },
          { sku: 'MS-002', quantity: 1 },
        ],
        shortages: null,
      },
      stock: [kb(5, 5), ms(9, 1)],
      send: [
        {
          type: 'StockReserved',
          payload: {
            orderId,
            items: [
              { sku: 'KB-001', quantity: 5 },
              { sku: 'MS-002', quantity: 1 },
            ],
          },
        },
      ],
    },
  },

  // PaymentAuthorized again, or after a release
  {
    name: 'when the payment arrives after the order was released, it reserves nothing and reports ORDER_CANCELLED',
    given: { reservation: voided, stock: [] },
    when: paymentAuthorized(['KB-001', 1]),
    then: { accepted: true, stock: [], send: [{ type: 'StockReservationFailed', payload: { orderId, reason: 'ORDER_CANCELLED', shortages: [] } }] },
  },
  {
    name: 'when the payment arrives again for a reserved order, it does not accept it (already processed)',
    given: { reservation: reserved, stock: [] },
    when: paymentAuthorized(['KB-001', 2], ['MS-002', 1]),
    then: { accepted: false, why: 'payment already processed; reservation is RESERVED' },
  },
  {
    name: 'when the payment arrives again for a failed order, it does not accept it (already processed)',
    given: { reservation: failed, stock: [] },
    when: paymentAuthorized(['KB-001', 5]),
    then: { accepted: false, why: 'payment already processed; reservation is FAILED' },
  },
  {
    name: 'when the payment arrives again for a released order, it does not accept it and reserves nothing',
    given: { reservation: released, stock: [] },
    when: paymentAuthorized(['KB-001', 2], ['MS-002', 1]),
    then: { accepted: false, why: 'payment already processed; reservation is RELEASED' },
  },

  // ReleaseStock
  {
    name: 'when a reserved order is released, it gives every line back and reports what was released',
    given: { reservation: reserved, stock: [kb(8, 2), ms(4, 3)] },
    when: releaseStock,
    then: {
      accepted: true,
      reservation: { ...reserved, status: 'RELEASED' },
      stock: [kb(10, 0), ms(5, 2)],
      send: [{ type: 'StockReleased', payload: { orderId, items: reserved.items, reason: 'CUSTOMER_REQUEST' } }],
    },
  },
  {
    name: 'when the release comes before the payment, it leaves a VOIDED tombstone and reports nothing released',
    given: { reservation: null, stock: [] },
    when: releaseStock,
    then: { accepted: true, reservation: voided, stock: [], send: [nothingReleased] },
  },
  {
    name: 'when the release is repeated after the stock went back, nothing moves and it answers again with nothing released',
    given: { reservation: released, stock: [kb(10)] },
    when: releaseStock,
    then: { accepted: true, stock: [], send: [nothingReleased] },
  },
  {
    name: 'when a failed reservation is released, nothing moves (nothing was reserved) and it answers',
    given: { reservation: failed, stock: [kb(1)] },
    when: releaseStock,
    then: { accepted: true, stock: [], send: [nothingReleased] },
  },
  {
    name: 'when a voided order is released again, it keeps the tombstone and answers again',
    given: { reservation: voided, stock: [] },
    when: releaseStock,
    then: { accepted: true, stock: [], send: [nothingReleased] },
  },
];

const spec = specify(reservations);

describe('inventory reservation decisions', () => {
  it.each(cases)('$name', ({ given, when, then }) => {
    const decided = spec.given(given).when(when);
    if (!then.accepted) return decided.thenRejects(new RegExp(`^${then.why.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`));
    const moved = new Map(then.stock.map((l) => [l.sku, l]));
    const stock = [...given.stock.map((l) => moved.get(l.sku) ?? l), ...then.stock.filter((l) => !given.stock.some((g) => g.sku === l.sku))];
    decided.then({ reservation: then.reservation ?? given.reservation, stock }, then.send);
  });

  it.each(cases.filter((c) => c.then.accepted))('every message sent satisfies its contract: $name', ({ given, when }) => {
    const d = decide(given, when);
    if (!d.accepted) throw new Error('expected an accepted decision');
    const schemas = { StockReserved: StockReserved.schema, StockReservationFailed: StockReservationFailed.schema, StockReleased: StockReleased.schema };
    for (const out of d.send) expect(schemas[out.type].safeParse(out.payload).success).toBe(true);
  });
});

/** Runs messages one after another, as the handler does, over a tiny in-memory store. */
function play(stock: StockLevel[], ...inputs: InventoryInput[]) {
  const levels = new Map(stock.map((s) => [s.sku, s]));
  const held = new Map<string, Reservation>();
  const decisions: Decision[] = [];
  for (const input of inputs) {
    const reservation = held.get(input.orderId) ?? null;
    const d = decide({ reservation, stock: skusToLock(reservation, input).flatMap((sku) => levels.get(sku) ?? []) }, input);
    decisions.push(d);
    if (!d.accepted) continue;
    if (d.state.reservation) held.set(input.orderId, d.state.reservation);
    for (const s of d.state.stock) levels.set(s.sku, s);
  }
  return { decisions, stock: [...levels.values()], reservation: (id = orderId) => held.get(id) ?? null };
}

describe('inventory reservations over a sequence of messages', () => {
  it('when the release comes first and the payment later, it never reserves and the stock is untouched', () => {
    const run = play([kb(10)], releaseStock, paymentAuthorized(['KB-001', 2]));
    expect(run.stock).toEqual([kb(10)]);
    expect(run.reservation()?.status).toBe('VOIDED');
    expect(run.decisions.map((d) => d.accepted && d.send.map((s) => s.type))).toEqual([['StockReleased'], ['StockReservationFailed']]);
  });

  it('when an order is reserved then released twice, the stock goes back once and both releases are answered', () => {
    const run = play([kb(10)], paymentAuthorized(['KB-001', 4]), releaseStock, releaseStock);
    expect(run.stock).toEqual([kb(10, 0)]);
    expect(run.decisions.map((d) => d.accepted && d.send.map((s) => s.type === 'StockReleased' && s.payload.items))).toEqual([
      [false],
      [[{ sku: 'KB-001', quantity: 4 }]],
      [[]],
    ]);
  });

  it('when the payment is delivered twice, it reserves once', () => {
    const run = play([kb(10)], paymentAuthorized(['KB-001', 4]), paymentAuthorized(['KB-001', 4]));
    expect(run.stock).toEqual([kb(6, 4)]);
    expect(run.decisions[1]).toEqual({ accepted: false, why: 'payment already processed; reservation is RESERVED' });
  });

  it('when the payment arrives after the reservation was released, it does not reserve again', () => {
    const run = play([kb(10)], paymentAuthorized(['KB-001', 4]), releaseStock, paymentAuthorized(['KB-001', 4]));
    expect(run.stock).toEqual([kb(10, 0)]);
    expect(run.reservation()?.status).toBe('RELEASED');
  });

  it('when two orders want the last units, the first gets them and the second reserves nothing', () => {
    const other = '6a1f0d3e-8c4b-4f2a-9e7d-1b2c3d4e5f60';
    const run = play([kb(3), ms(10)], paymentAuthorized(['KB-001', 2]), {
      type: 'PaymentAuthorized',
      orderId: other,
      items: [
        { sku: 'MS-002', quantity: 1 },
        { sku: 'KB-001', quantity: 2 },
      ],
    });
    expect(run.reservation()?.status).toBe('RESERVED');
    expect(run.reservation(other)).toEqual({
      status: 'FAILED',
      items: [
        { sku: 'MS-002', quantity: 1 },
        { sku: 'KB-001', quantity: 2 },
      ],
      shortages: [{ sku: 'KB-001', requested: 2, available: 1 }],
    });
    expect(run.stock).toEqual([kb(1, 2), ms(10)]);
  });

  it('reserving and releasing moves units between available and reserved without creating or losing any', () => {
    const run = play([kb(7, 1), ms(2)], paymentAuthorized(['KB-001', 3], ['MS-002', 2]), releaseStock);
    const total = (s: StockLevel[]) => s.reduce((n, l) => n + l.available + l.reserved, 0);
    expect(total(run.stock)).toBe(total([kb(7, 1), ms(2)]));
    expect(run.stock).toEqual([kb(7, 1), ms(2, 0)]);
  });
});

describe('which stock rows a message locks', () => {
  it('a first payment locks each SKU it names, once', () => {
    expect(skusToLock(null, paymentAuthorized(['MS-002', 1], ['KB-001', 1], ['MS-002', 2]))).toEqual(['MS-002', 'KB-001']);
  });
  it('a release of a reserved order locks the reserved SKUs', () => {
    expect(skusToLock(reserved, releaseStock)).toEqual(['KB-001', 'MS-002']);
  });
  it('a message that cannot move stock locks nothing', () => {
    expect(skusToLock(reserved, paymentAuthorized(['KB-001', 1]))).toEqual([]);
    expect(skusToLock(null, releaseStock)).toEqual([]);
    for (const r of [failed, released, voided]) expect(skusToLock(r, releaseStock)).toEqual([]);
  });
  it('merging lines keeps the first position of each SKU and sums its quantities', () => {
    expect(
      mergeLines([
        { sku: 'B', quantity: 1 },
        { sku: 'A', quantity: 2 },
        { sku: 'B', quantity: 3 },
      ]),
    ).toEqual([
      { sku: 'B', quantity: 4 },
      { sku: 'A', quantity: 2 },
    ]);
  });
});
