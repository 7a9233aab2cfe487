import { Api, quiet, uniq } from './support/api';
import { expectConserved } from './support/conservation';
import { startSystem, type SystemUnderTest } from './support/system';
import { until } from './support/wait';

describe('saga deadline', () => {
  describe('an order stuck past its deadline', () => {
    let sut: SystemUnderTest;
    let api: Api;

    beforeAll(async () => {
      // Payment's retries (1 s, 2 s, 4 s) outlast the 1.5 s deadline.
      sut = await startSystem({
        SAGA_DEADLINE_MS: '1500',
        DEADLINE_CHECK_INTERVAL_MS: '100',
        RETRY_DELAYED: '3',
        RETRY_BASE_DELAY_MS: '1000',
        RETRY_MAX_DELAY_MS: '4000',
      });
      api = new Api(sut);
    });
    afterAll(() => sut?.stop());

    it('is cancelled with TIMEOUT and compensated, and the late payment attempt takes no money', async () => {
      const sku = uniq('SKU');
      const customer = uniq('cust');
      await api.product(sku, 10, 5);
      await api.account(customer, 100, true);
      const id = await api.place(customer, [{ sku, quantity: 1 }]);

      const order = await api.settled(id, 10_000);
      expect(order).toMatchObject({ status: 'CANCELLED', cancellationReason: 'TIMEOUT' });
      const types = order.timeline.map((t: { type: string }) => t.type);
      expect(types).toEqual(
        expect.arrayContaining(['OrderDeadlineReached', 'RefundPayment', 'ReleaseStock', 'PaymentRefunded', 'StockReleased', 'OrderCancelled']),
      );

      // The gateway recovers; Payment's next retry of OrderPlaced finds the order voided.
      await api.account(customer, 100, false);
      const late = await until(
        () => api.order(id),
        (o) => o.timeline.some((t: { type: string }) => t.type === 'PaymentDeclined'),
        15_000,
        'the late payment answer',
      );
      expect(late.status).toBe('CANCELLED');
      const payments = await api.get('payment', `/api/payments?orderId=${id}`);
      expect(payments.body.items).toMatchObject([{ status: 'VOIDED' }]);
      expect(await api.balance(customer)).toBe(100);
      expect(await api.stock(sku)).toMatchObject({ available: 5, reserved: 0 });
    });
  });

  describe('orders racing a tiny deadline', () => {
    let sut: SystemUnderTest;
    let api: Api;

    beforeAll(async () => {
      sut = await startSystem({ SAGA_DEADLINE_MS: '15', DEADLINE_CHECK_INTERVAL_MS: '5' });
      api = new Api(sut);
    });
    afterAll(() => sut?.stop());

    it('ends every order terminal, compensating late payments and reservations, with money and stock conserved', async () => {
      const skus = [uniq('SKU'), uniq('SKU')];
      const customers = [uniq('cust'), uniq('cust'), uniq('cust')];
      const balances = new Map(customers.map((c) => [c, 200]));
      const stock = new Map(skus.map((s) => [s, 40]));
      for (const s of skus) await api.product(s, 3, 40);
      for (const c of customers) await api.account(c, 200);
      const ids = await Promise.all(Array.from({ length: 40 }, (_, i) => api.place(customers[i % 3], [{ sku: skus[i % 2], quantity: 1 + (i % 3) }])));
      await Promise.all(ids.map((id) => api.settled(id, 20_000)));
      await quiet(() => Promise.all([...customers.map((c) => api.balance(c)), ...skus.map((s) => api.stock(s))]));
      const { cancelled } = await expectConserved(api, ids, balances, stock);
      // Most orders lose the race against a 15 ms deadline; the point is that each one is compensated.
      expect(cancelled).toBeGreaterThan(0);
      const timedOut = await Promise.all(ids.map((id) => api.order(id)));
      expect(timedOut.filter((o) => o.cancellationReason === 'TIMEOUT').length).toBeGreaterThan(0);
    });
  });
});
