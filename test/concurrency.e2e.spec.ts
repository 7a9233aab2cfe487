import { Api, quiet, uniq } from './support/api';
import { expectConserved } from './support/conservation';
import { startSystem, type SystemUnderTest } from './support/system';

describe('200 concurrent orders for scarce stock', () => {
  let sut: SystemUnderTest;
  let api: Api;

  beforeAll(async () => {
    sut = await startSystem();
    api = new Api(sut);
  });
  afterAll(() => sut?.stop());

  it('never oversells and conserves money', async () => {
    const scarce = uniq('SKU');
    const plenty = uniq('SKU');
    await api.product(scarce, 7, 30);
    await api.product(plenty, 1, 1000);
    const customers = Array.from({ length: 20 }, () => uniq('cust'));
    // A quarter of the customers cannot afford any order (each costs at least 8), so declines interleave with stock failures.
    const balances = new Map(customers.map((c, i) => [c, i % 4 === 0 ? 5 : 200]));
    for (const [c, b] of balances) await api.account(c, b);
    const stock = new Map([
      [scarce, 30],
      [plenty, 1000],
    ]);

    const ids = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        api.place(customers[i % customers.length], [
          { sku: scarce, quantity: 1 + (i % 2) },
          { sku: plenty, quantity: 1 },
        ]),
      ),
    );
    const orders = await Promise.all(ids.map((id) => api.settled(id, 60_000)));
    await quiet(() => Promise.all([api.stock(scarce), ...customers.map((c) => api.balance(c))]));

    const { confirmed } = await expectConserved(api, ids, balances, stock);
    const sold = orders.filter((o) => o.status === 'CONFIRMED').reduce((n, o) => n + o.items[0].quantity, 0);
    expect(sold).toBeLessThanOrEqual(30);
    expect(confirmed).toBeGreaterThan(0);
    // Demand (300 units) far exceeds 30: the scarce SKU sells out, minus at most one unit
    // (an order of 2 that no longer fits).
    expect((await api.stock(scarce)).available).toBeLessThanOrEqual(1);
    const reasons = new Set(orders.filter((o) => o.status === 'CANCELLED').map((o) => o.cancellationReason));
    expect(reasons).toEqual(new Set(['OUT_OF_STOCK', 'PAYMENT_DECLINED']));
  });
});
