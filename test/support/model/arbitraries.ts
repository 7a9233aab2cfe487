import fc from 'fast-check';
import { CURRENCY } from '@app/contracts';
import { uuid } from './messages';
import type { Step, World } from './simulator';

/**
 * Small worlds, where orders compete: one or two customers (one may have no account), one or
 * two SKUs with a few units (sometimes a SKU Inventory has no row for), up to three orders of
 * one or two lines. Balances and stock are low enough that declines and stock-outs are common.
 */
export const SKUS = ['A', 'B'] as const;
export const UNKNOWN_SKU = 'Z';
export const PLACED_AT = '2026-12-01T00:00:00.000Z';

export interface WorldOptions {
  /** Enough money and stock for every order, every customer with an account. */
  ample?: boolean;
}

export function worlds(options: WorldOptions = {}): fc.Arbitrary<World> {
  const balance = options.ample
    ? fc.constant<number | null>(100_000)
    : fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 0, max: 400 }) }, { weight: 1, arbitrary: fc.constant(null) });
  const stock = options.ample ? fc.constant(100) : fc.integer({ min: 0, max: 4 });
  const sku = options.ample
    ? fc.constantFrom<string>(...SKUS)
    : fc.oneof({ weight: 8, arbitrary: fc.constantFrom<string>(...SKUS) }, { weight: 1, arbitrary: fc.constant(UNKNOWN_SKU) });
  const line = fc.record({
    sku,
    quantity: fc.integer({ min: 1, max: 3 }),
    unitPrice: fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 1, max: 150 }) }, { weight: 1, arbitrary: fc.constant(0) }),
  });
  return fc
    .record({
      balances: fc.array(balance, { minLength: 1, maxLength: 2 }),
      // Ample: a stock row for every SKU an order may name.
      stock: fc.array(stock, { minLength: options.ample ? SKUS.length : 1, maxLength: SKUS.length }),
      orders: fc.array(fc.record({ customer: fc.nat({ max: 1 }), lines: fc.array(line, { minLength: 1, maxLength: 2 }) }), { minLength: 1, maxLength: 3 }),
    })
    .map(({ balances, stock: units, orders }) => ({
      accounts: balances.flatMap((b, i) => (b === null ? [] : [{ customerId: `c${i + 1}`, balance: b }])),
      stock: units.map((available, i) => ({ sku: SKUS[i], available, reserved: 0 })),
      orders: orders.map((o, i) => ({
        orderId: uuid(i + 1),
        customerId: `c${(o.customer % balances.length) + 1}`,
        items: o.lines,
        total: o.lines.reduce((t, l) => t + l.quantity * l.unitPrice, 0),
        currency: CURRENCY,
        placedAt: PLACED_AT,
      })),
    }));
}

export interface ScriptOptions {
  /** Leave out cancels, deadlines and dead letters: only reordering and duplicates. */
  deliveriesOnly?: boolean;
  maxLength?: number;
}

/** What happens next, step by step; each number picks among what is possible then (modulo), so every script is valid. */
export function scripts(options: ScriptOptions = {}): fc.Arbitrary<Step[]> {
  const pick = fc.nat({ max: 30 });
  const order = fc.nat({ max: 2 });
  const steps: Array<fc.WeightedArbitrary<Step>> = [
    { weight: 12, arbitrary: pick.map((p): Step => ({ do: 'deliver', pick: p })) },
    { weight: 2, arbitrary: pick.map((p): Step => ({ do: 'redeliver', pick: p })) },
  ];
  if (!options.deliveriesOnly) {
    steps.push(
      { weight: 1, arbitrary: order.map((o): Step => ({ do: 'cancel', order: o })) },
      { weight: 1, arbitrary: order.map((o): Step => ({ do: 'deadline', order: o })) },
      { weight: 1, arbitrary: pick.map((p): Step => ({ do: 'deadLetter', pick: p })) },
      { weight: 1, arbitrary: pick.map((p): Step => ({ do: 'replay', pick: p })) },
    );
  }
  return fc.array(fc.oneof(...steps), { maxLength: options.maxLength ?? 40 });
}
