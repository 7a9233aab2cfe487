import { Pool } from 'pg';
import { Api, quiet, uniq } from '../support/api';
import { expectConserved } from '../support/conservation';
import { SERVICES } from '../support/distributed';
import { startDistributedSystem, type DistributedSystem } from '../support/system';

/**
 * Two instances of every service against the same databases and queues (as Kubernetes runs
 * them), under concurrent load on a few shared customers and SKUs: the set-based handlers lock
 * in one global order per service, so the instances wait for each other but never deadlock;
 * nothing is lost or doubled; each order's messages are handled once each, in an order the saga
 * accepts. Always distributed; only the distributed e2e run includes test/distributed/.
 */
describe('two instances of every service (distributed)', () => {
  let sut: DistributedSystem;
  let apis: Api[];
  let stopSecond: Array<() => Promise<void>> = [];

  beforeAll(async () => {
    sut = await startDistributedSystem();
    const second = await Promise.all(SERVICES.map((s) => sut.addInstance(s)));
    stopSecond = second.map((i) => i.stop);
    const urls = Object.fromEntries(SERVICES.map((s, i) => [s, second[i].url])) as DistributedSystem['urls'];
    apis = [new Api(sut), new Api({ ...sut, urls })];
  });
  afterAll(() => sut?.stop());

  it('shared customers and SKUs under load: no deadlock, nothing lost or doubled, each order’s messages once and in order', async () => {
    const [api, other] = apis;
    const customers = [uniq('cust'), uniq('cust'), uniq('cust'), uniq('cust'), uniq('poor')];
    const skus = [uniq('SKU'), uniq('SKU'), uniq('SKU'), uniq('SCARCE')];
    const balances = new Map(customers.map((c, i) => [c, i === 4 ? 10 : 2000]));
    const stock = new Map(skus.map((s, i) => [s, i === 3 ? 20 : 1000]));
    for (const [c, b] of balances) await api.account(c, b);
    for (const [s, n] of stock) await api.product(s, 2, n);

    // 300 orders, 24 in flight, alternately through each Order instance; every order takes two
    // SKUs, so batches on both instances touch the same stock rows and accounts.
    const ids: string[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: 24 }, async () => {
        for (let i = next++; i < 300; i = next++) {
          const items = [
            { sku: skus[i % skus.length], quantity: 1 + (i % 2) },
            { sku: skus[(i + 1) % skus.length], quantity: 1 },
          ];
          ids.push(await (i % 2 ? other : api).place(customers[i % customers.length], items));
        }
      }),
    );
    expect(new Set(ids).size).toBe(300);
    const orders = await Promise.all(ids.map((id, i) => (i % 2 ? other : api).settled(id, 90_000)));
    await quiet(() => Promise.all([...customers.map((c) => api.balance(c)), ...skus.map((s) => api.stock(s))]), 500, 60_000);

    const { confirmed, cancelled } = await expectConserved(api, ids, balances, stock);
    expect(confirmed).toBeGreaterThan(0);
    expect(cancelled).toBeGreaterThan(0);

    for (const o of orders.map((x) => x.orderId)) {
      const order = (await api.get('order', `/api/orders/${o}`)).body;
      const lines = order.timeline as Array<{ type: string; source: string; messageId: string; at: string }>;
      const types = lines.map((l) => l.type);
      // Each message handled once (two instances consumed the same queues), OrderPlaced first.
      expect({ order: o, duplicates: lines.length - new Set(lines.map((l) => l.messageId)).size }).toEqual({ order: o, duplicates: 0 });
      expect({ order: o, first: types[0] }).toEqual({ order: o, first: 'OrderPlaced' });
      // Not asserted: that one service's messages about an order are handled in the order it sent
      // them. Two instances compete for each queue, so a PaymentRefunded can be handled by one
      // before the other has finished the PaymentAuthorized it prefetched (seen here); the saga
      // takes any order, which test/saga-model.property.unit.spec.ts searches for.
      if (order.status === 'CONFIRMED') {
        // Inventory reserves only after the payment, so StockReserved may reach Order before
        // PaymentAuthorized (which then changes nothing); OrderConfirmed follows StockReserved.
        const count = (t: string) => types.filter((x) => x === t).length;
        expect({ order: o, authorized: count('PaymentAuthorized'), reserved: count('StockReserved'), confirmed: count('OrderConfirmed') }).toEqual({
          order: o,
          authorized: 1,
          reserved: 1,
          confirmed: 1,
        });
        expect(types.indexOf('OrderConfirmed')).toBeGreaterThan(types.indexOf('StockReserved'));
      }
    }

    // No deadlock aborts: PostgreSQL counts them per database. A backend reports its counters
    // when it exits, so the services stop first (all instances).
    const databases = Object.values(sut.databaseUrls).map((url) => decodeURIComponent(new URL(url).pathname.slice(1)));
    await Promise.all(stopSecond.map((stop) => stop()));
    for (const s of SERVICES) await sut.kill(s, 'SIGTERM');
    const admin = new Pool({ connectionString: sut.databaseUrls.order.replace(/\/[^/]*$/, '/postgres'), max: 1 });
    try {
      const { rows } = await admin.query('SELECT datname, deadlocks::int AS deadlocks FROM pg_stat_database WHERE datname = ANY($1) ORDER BY datname', [
        databases,
      ]);
      expect(rows).toHaveLength(SERVICES.length);
      expect(rows.filter((r) => r.deadlocks > 0)).toEqual([]);
    } finally {
      await admin.end();
    }
  });
});
