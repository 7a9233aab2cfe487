import fc from 'fast-check';
import type { CancellationReason } from '@app/contracts';
import { contractViolation, message, uuid, type Message } from '../../../../test/support/model/messages';
import { propertyParams, seed } from '../../../../test/support/model/params';
import { inventoryInputOf, StockRoom, type InventoryMessage } from '../../../../test/support/model/services';
import { mergeLines, type ReservedLine, type StockLevel } from './reservation.decide';

/**
 * Inventory's decide function, searched: random sequences of PaymentAuthorized and ReleaseStock
 * for a few orders competing for a few SKUs (and a SKU with no stock row), in any order, some
 * delivered again with the same message id (the inbox drops them), some again after their inbox
 * record expired (decided twice), driven as reservation.handlers.ts drives it. After every message:
 *
 * - never oversold: available ≥ 0 and reserved ≥ 0; units are conserved (available + reserved is
 *   what each SKU started with) and reserved is exactly what RESERVED reservations hold;
 * - an order's stock is reserved at most once, as its merged lines, and released at most once,
 *   exactly what was reserved; a release that overtook the payment leaves nothing to reserve;
 * - a reservation fails only for lines that are really short, and names every one of them;
 * - every ReleaseStock decided is answered by exactly one StockReleased;
 * - every message sent satisfies its contract.
 */
const SKUS = ['A', 'B'];
const UNKNOWN = 'Z';

interface World {
  stock: StockLevel[];
  orders: Array<{ orderId: string; lines: Array<ReservedLine & { unitPrice: number }> }>;
}

type Step =
  | { send: 'PaymentAuthorized'; order: number }
  | { send: 'ReleaseStock'; order: number; reason: CancellationReason }
  | { again: 'duplicate' | 'expired'; pick: number };

const worlds: fc.Arbitrary<World> = fc
  .record({
    stock: fc.tuple(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: 5 })),
    orders: fc.array(
      fc.array(
        fc.record({
          sku: fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...SKUS) }, { weight: 1, arbitrary: fc.constant(UNKNOWN) }),
          quantity: fc.integer({ min: 1, max: 4 }),
        }),
        { minLength: 1, maxLength: 3 },
      ),
      { minLength: 1, maxLength: 3 },
    ),
  })
  .map(({ stock, orders }) => ({
    stock: stock.map((available, i) => ({ sku: SKUS[i], available, reserved: 0 })),
    orders: orders.map((lines, i) => ({ orderId: uuid(i + 1), lines: lines.map((l) => ({ ...l, unitPrice: 100 })) })),
  }));

const steps: fc.Arbitrary<Step[]> = fc.array(
  fc.oneof(
    { weight: 4, arbitrary: fc.nat({ max: 2 }).map((order): Step => ({ send: 'PaymentAuthorized', order })) },
    {
      weight: 3,
      arbitrary: fc
        .record({ order: fc.nat({ max: 2 }), reason: fc.constantFrom<CancellationReason>('OUT_OF_STOCK', 'CUSTOMER_REQUEST', 'TIMEOUT') })
        .map((r): Step => ({ send: 'ReleaseStock', ...r })),
    },
    { weight: 2, arbitrary: fc.record({ again: fc.constantFrom('duplicate' as const, 'expired' as const), pick: fc.nat({ max: 20 }) }) },
  ),
  { maxLength: 25 },
);

function play(world: World, script: readonly Step[]) {
  const room = new StockRoom(world.stock);
  const inbox = new Set<string>();
  const received: InventoryMessage[] = [];
  const sent: Message[] = [];
  const broken: string[] = [];
  const labelOf = (orderId: string) => `o${world.orders.findIndex((o) => o.orderId === orderId) + 1}`;
  const log: string[] = [
    `stock ${world.stock.map((s) => `${s.sku}=${s.available}`).join(' ')}`,
    ...world.orders.map((o, i) => `o${i + 1}: ${o.lines.map((l) => `${l.sku}×${l.quantity}`).join(' ')}`),
  ];
  let ids = 0;

  const check = (m: InventoryMessage, before: Map<string, StockLevel>, hadHistory: boolean, decided: ReturnType<StockRoom['handle']>) => {
    const label = labelOf(m.payload.orderId);
    const answers = decided.accepted ? decided.replies : [];
    if (m.type === 'ReleaseStock') {
      if (answers.length !== 1 || answers[0].type !== 'StockReleased') broken.push(`${label}: ${m.messageId} ReleaseStock not answered once`);
      return;
    }
    if (hadHistory) return;
    // The first payment Inventory hears of for this order: it must answer, reserving all or nothing, truthfully.
    const wanted = mergeLines(m.payload.items);
    const short = wanted.filter((l) => (before.get(l.sku)?.available ?? 0) < l.quantity);
    const answer = answers[0];
    if (answers.length !== 1) broken.push(`${label}: first PaymentAuthorized answered by ${JSON.stringify(answers)}`);
    else if (answer.type === 'StockReserved') {
      if (short.length) broken.push(`${label}: reserved although ${short.map((l) => l.sku).join(', ')} was short`);
      if (JSON.stringify(answer.payload.items) !== JSON.stringify(wanted))
        broken.push(`${label}: reserved ${JSON.stringify(answer.payload.items)}, wanted ${JSON.stringify(wanted)}`);
    } else if (answer.type === 'StockReservationFailed') {
      const expected = short.map((l) => ({ sku: l.sku, requested: l.quantity, available: before.get(l.sku)?.available ?? 0 }));
      if (answer.payload.reason !== 'INSUFFICIENT_STOCK' || JSON.stringify(answer.payload.shortages) !== JSON.stringify(expected))
        broken.push(`${label}: failed ${answer.payload.reason} ${JSON.stringify(answer.payload.shortages)}, the short lines were ${JSON.stringify(expected)}`);
    } else broken.push(`${label}: PaymentAuthorized answered by ${answer.type}`);
  };

  const deliver = (m: InventoryMessage, bypassInbox: boolean) => {
    if (!bypassInbox && inbox.has(m.messageId)) {
      log.push(`${m.messageId} ${m.type}: duplicate, dropped`);
      return;
    }
    inbox.add(m.messageId);
    const before = new Map(room.levels);
    const hadHistory = room.reservations.has(m.payload.orderId);
    const decided = room.handle(inventoryInputOf(m));
    if (decided.accepted) for (const reply of decided.replies) sent.push(StockRoom.messageFor(reply, `r${++ids}`, m.messageId));
    const levels = [...room.levels.values()].map((l) => `${l.sku} ${l.available}+${l.reserved}`).join(', ');
    log.push(
      `${m.messageId} ${m.type}${bypassInbox ? ' (inbox expired)' : ''} ${labelOf(m.payload.orderId)}: ${
        decided.accepted
          ? `${room.reservations.get(m.payload.orderId)?.status}, sends ${decided.replies.map((r) => r.type).join(', ') || 'nothing'}; ${levels}`
          : `not applied (${decided.why})`
      }`,
    );
    check(m, before, hadHistory, decided);
  };

  const invariants = () => {
    for (const initial of world.stock) {
      const level = room.levels.get(initial.sku);
      if (!level) {
        broken.push(`stock row ${initial.sku} disappeared`);
        continue;
      }
      if (level.available < 0 || level.reserved < 0) broken.push(`${level.sku} oversold: ${level.available} available, ${level.reserved} reserved`);
      if (level.available + level.reserved !== initial.available)
        broken.push(`${level.sku}: ${initial.available} units became ${level.available} + ${level.reserved}`);
      const held = [...room.reservations.values()]
        .filter((r) => r.status === 'RESERVED')
        .flatMap((r) => r.items.filter((l) => l.sku === level.sku))
        .reduce((t, l) => t + l.quantity, 0);
      if (held !== level.reserved) broken.push(`${level.sku}: reserved ${level.reserved}, RESERVED reservations hold ${held}`);
    }
    if (room.levels.has(UNKNOWN)) broken.push(`a stock row appeared for ${UNKNOWN}`);
    for (const o of world.orders) {
      const label = labelOf(o.orderId);
      const mine = sent.filter((s) => s.payload.orderId === o.orderId);
      const reserved = mine.flatMap((s) => (s.type === 'StockReserved' ? [s.payload.items] : []));
      const released = mine.flatMap((s) => (s.type === 'StockReleased' && s.payload.items.length > 0 ? [s.payload.items] : []));
      if (reserved.length > 1) broken.push(`${label} reserved ${reserved.length} times`);
      if (released.length > 1) broken.push(`${label} released ${released.length} times`);
      if (released.length === 1 && JSON.stringify(released[0]) !== JSON.stringify(reserved[0]))
        broken.push(`${label} released ${JSON.stringify(released[0])}, having reserved ${JSON.stringify(reserved[0])}`);
      // A release that overtook the payment wins: no reservation after Inventory first heard of a release for the order.
      const firstRelease = received.findIndex((m) => m.type === 'ReleaseStock' && m.payload.orderId === o.orderId);
      const firstPayment = received.findIndex((m) => m.type === 'PaymentAuthorized' && m.payload.orderId === o.orderId);
      if (firstRelease >= 0 && (firstPayment < 0 || firstRelease < firstPayment) && reserved.length > 0)
        broken.push(`${label} reserved after its release overtook it`);
    }
    for (const s of sent) {
      const v = contractViolation(s);
      if (v) broken.push(`${s.type} breaks its contract: ${v}`);
    }
  };

  for (const step of script) {
    if ('send' in step) {
      const o = world.orders[step.order % world.orders.length];
      const id = `m${++ids}`;
      const m: InventoryMessage =
        step.send === 'PaymentAuthorized'
          ? message(
              'PaymentAuthorized',
              { orderId: o.orderId, paymentId: uuid(500 + step.order), customerId: 'c1', amount: 100, currency: 'USD', items: o.lines },
              'payment',
              id,
              null,
            )
          : message('ReleaseStock', { orderId: o.orderId, reason: step.reason }, 'order', id, null);
      received.push(m);
      deliver(m, false);
    } else if (received.length > 0) {
      deliver(received[step.pick % received.length], step.again === 'expired');
    }
    invariants();
  }
  return { room, sent, log, broken };
}

describe(`inventory decisions over random message sequences (seed ${seed})`, () => {
  it('never oversells, conserves units, reserves and releases at most once, exactly what was reserved, and answers every release', () => {
    fc.assert(
      fc.property(worlds, steps, (world, script) => {
        const r = play(world, script);
        if (r.broken.length) throw new Error(`${[...new Set(r.broken)].join('\n')}\n\nlog:\n${r.log.join('\n')}`);
      }),
      propertyParams(500),
    );
  });

  it('gives every unit back once every order has been released, whatever came before', () => {
    fc.assert(
      fc.property(worlds, steps, (world, script) => {
        const releaseAll: Step[] = world.orders.map((_, order) => ({ send: 'ReleaseStock', order, reason: 'CUSTOMER_REQUEST' }));
        const r = play(world, [...script, ...releaseAll]);
        const notBack = world.stock.filter((s) => {
          const l = r.room.levels.get(s.sku);
          return l?.available !== s.available || l.reserved !== 0;
        });
        const held = [...r.room.reservations.values()].filter((x) => x.status === 'RESERVED');
        if (r.broken.length || notBack.length || held.length)
          throw new Error(
            `${[...new Set(r.broken)].join('\n')}\nnot back: ${notBack.map((s) => s.sku).join(', ') || 'none'}; still reserved: ${held.length}\n\nlog:\n${r.log.join('\n')}`,
          );
      }),
      propertyParams(300),
    );
  });
});
