import fc from 'fast-check';
import { CURRENCY } from '@app/contracts';
import { PLACED_AT, scripts, worlds } from './support/model/arbitraries';
import { always, atQuiescence } from './support/model/invariants';
import { uuid } from './support/model/messages';
import { propertyParams, seed } from './support/model/params';
import { SagaSimulator, type Step, type World } from './support/model/simulator';

/**
 * The saga as a whole, searched: Order, Payment and Inventory run together in memory on their
 * real decide functions (test/support/model/simulator.ts), and fast-check chooses the world
 * (balances, stock, orders) and what happens next: which message in flight is delivered, which
 * is delivered again, when a customer cancels, when a deadline fires, which step is
 * dead-lettered and which dead letter is replayed. After every step, and once everything left
 * has been delivered, the rules of test/support/model/invariants.ts must hold.
 *
 * A failure prints the seed and path (FUZZ_SEED=<seed> PROPERTY_PATH=<path> replays it), the
 * shrunk world and script, the rules broken and the delivery log of the shrunk case.
 */
function run(world: World, script: readonly Step[]): SagaSimulator {
  const sim = new SagaSimulator(world);
  const check = (broken: string[], when: string) => {
    if (broken.length) throw new Error(`${when}:\n  ${broken.join('\n  ')}\n\ndelivery log:\n${sim.log.join('\n')}`);
  };
  try {
    for (const [i, step] of script.entries()) {
      sim.step(step);
      check(always(sim), `after step ${i + 1} ${JSON.stringify(step)}`);
    }
    sim.quiesce();
  } catch (error) {
    if (error instanceof Error && error.message.includes('delivery log:')) throw error;
    throw new Error(`${String(error)}\n\ndelivery log:\n${sim.log.join('\n')}`, { cause: error });
  }
  check([...always(sim), ...atQuiescence(sim)], 'at quiescence');
  return sim;
}

const order = (n: number, customerId: string, lines: Array<[string, number, number]>): World['orders'][number] => ({
  orderId: uuid(n),
  customerId,
  items: lines.map(([sku, quantity, unitPrice]) => ({ sku, quantity, unitPrice })),
  total: lines.reduce((t, [, q, p]) => t + q * p, 0),
  currency: CURRENCY,
  placedAt: PLACED_AT,
});

describe(`the saga as a whole (seed ${seed})`, () => {
  // The simulator itself, on paths whose ends are known, so a property cannot pass on a model that does nothing.
  it('runs the happy path to CONFIRMED, paid and reserved', () => {
    const sim = run(
      { accounts: [{ customerId: 'c1', balance: 500 }], stock: [{ sku: 'A', available: 3, reserved: 0 }], orders: [order(1, 'c1', [['A', 2, 100]])] },
      [],
    );
    expect(sim.order.orders.get(uuid(1))?.state.status).toBe('CONFIRMED');
    expect(sim.payment.accounts.get('c1')?.balance).toBe(300);
    expect(sim.inventory.levels.get('A')).toEqual({ sku: 'A', available: 1, reserved: 2 });
  });

  it('cancels a declined order, an out-of-stock one, and a cancelled one, and gives everything back', () => {
    const sim = run(
      {
        accounts: [
          { customerId: 'c1', balance: 150 },
          { customerId: 'c2', balance: 1000 },
        ],
        stock: [{ sku: 'A', available: 1, reserved: 0 }],
        orders: [order(1, 'c1', [['A', 1, 200]]), order(2, 'c2', [['A', 2, 10]]), order(3, 'c2', [['A', 1, 10]])],
      },
      [{ do: 'cancel', order: 2 }],
    );
    expect([1, 2, 3].map((n) => sim.order.orders.get(uuid(n))?.state.reason)).toEqual(['PAYMENT_DECLINED', 'OUT_OF_STOCK', 'CUSTOMER_REQUEST']);
    expect(sim.payment.accounts.get('c2')?.balance).toBe(1000);
    expect(sim.inventory.levels.get('A')).toEqual({ sku: 'A', available: 1, reserved: 0 });
  });

  it('keeps money, stock and every order right, whatever the interleaving, duplicates, cancels, deadlines and dead letters', () => {
    // What the search reached, so that a change to the generators that stops reaching a path is noticed.
    const reached = new Set<string>();
    const params = propertyParams<[World, Step[]]>(300);
    fc.assert(
      fc.property(worlds(), scripts(), (world, script) => {
        const sim = run(world, script);
        for (const o of sim.order.orders.values()) reached.add(o.state.status === 'CONFIRMED' ? 'CONFIRMED' : `CANCELLED ${o.state.reason}`);
        if (sim.transitions.some((t) => t.from === 'CONFIRMED')) reached.add('confirmed, then cancelled');
        if ([...sim.payment.payments.values()].some((p) => p.status === 'VOIDED')) reached.add('payment tombstone');
        if ([...sim.inventory.reservations.values()].some((r) => r.status === 'VOIDED')) reached.add('reservation tombstone');
        if (sim.log.some((l) => l.includes('dropped by the inbox'))) reached.add('duplicate dropped');
        if (sim.deadLetters.length > 0) reached.add('dead letter');
      }),
      params,
    );
    if ((params.numRuns ?? 0) < 300) return; // a shortened run (PROPERTY_RUNS < 1) need not reach every path
    const paths = [
      'CONFIRMED',
      'CANCELLED PAYMENT_DECLINED',
      'CANCELLED OUT_OF_STOCK',
      'CANCELLED CUSTOMER_REQUEST',
      'CANCELLED TIMEOUT',
      'CANCELLED PROCESSING_FAILED',
      'confirmed, then cancelled',
      'payment tombstone',
      'reservation tombstone',
      'duplicate dropped',
      'dead letter',
    ];
    expect(paths.filter((p) => !reached.has(p))).toEqual([]);
  });

  it('confirms every order when money and stock suffice and nothing cancels, however messages are reordered or repeated', () => {
    fc.assert(
      fc.property(worlds({ ample: true }), scripts({ deliveriesOnly: true }), (world, script) => {
        const sim = run(world, script);
        const notConfirmed = [...sim.order.orders.values()].filter((o) => o.state.status !== 'CONFIRMED');
        if (notConfirmed.length)
          throw new Error(
            `${notConfirmed.map((o) => `${sim.label(o.orderId)} ended ${o.state.status} ${o.state.reason}`).join(', ')}\n\ndelivery log:\n${sim.log.join('\n')}`,
          );
      }),
      propertyParams(150),
    );
  });
});
