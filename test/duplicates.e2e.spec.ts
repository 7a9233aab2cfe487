import { Api, quiet } from './support/api';
import { expectConserved } from './support/conservation';
import { startSystem, type SystemUnderTest } from './support/system';
import { until } from './support/wait';

/**
 * The bus delivers every message twice here (OrderPlaced, PaymentAuthorized, PaymentDeclined,
 * PaymentRefunded, StockReserved, StockReservationFailed, StockReleased, RefundPayment,
 * ReleaseStock, SagaStepFailed, OrderConfirmed, OrderCancelled). The inboxes must make every
 * second copy a no-op.
 */
describe('duplicate delivery of every message type', () => {
  let sut: SystemUnderTest;
  let api: Api;

  beforeAll(async () => {
    sut = await startSystem({ TRANSPORT_DUPLICATE_DELIVERY: 'true' });
    api = new Api(sut);
  });
  afterAll(() => sut?.stop());

  it('has no second effect anywhere', async () => {
    const { sku, scarce, rich, poor, broken } = await api.cast();
    const balances = new Map([
      [rich, 500],
      [poor, 5],
      [broken, 500],
    ]);
    const stock = new Map([
      [sku, 20],
      [scarce, 1],
    ]);

    const confirmed = await api.place(rich, [{ sku, quantity: 2 }]);
    const declined = await api.place(poor, [{ sku, quantity: 1 }]);
    const outOfStock = await api.place(rich, [{ sku: scarce, quantity: 2 }]);
    const poisoned = await api.place(broken, [{ sku, quantity: 1 }]);
    const toCancel = await api.place(rich, [{ sku, quantity: 3 }]);
    expect((await api.settled(toCancel)).status).toBe('CONFIRMED');
    expect((await api.request('order', 'POST', `/api/orders/${toCancel}/cancel`)).status).toBe(202);

    const ids = [confirmed, declined, outOfStock, poisoned, toCancel];
    const settled = await Promise.all(ids.map((id) => api.settled(id)));
    expect(settled.map((o) => [o.status, o.cancellationReason])).toEqual([
      ['CONFIRMED', null],
      ['CANCELLED', 'PAYMENT_DECLINED'],
      ['CANCELLED', 'OUT_OF_STOCK'],
      ['CANCELLED', 'PROCESSING_FAILED'],
      ['CANCELLED', 'CUSTOMER_REQUEST'],
    ]);
    await quiet(() => Promise.all([api.balance(rich), api.stock(sku), ...ids.map((id) => api.order(id))]));
    await expectConserved(api, ids, balances, stock);

    // Each message appears once in each timeline: the second copies never got past the inbox.
    for (const id of ids) {
      const timeline: Array<{ messageId: string }> = (await api.order(id)).timeline;
      const messageIds = timeline.map((t) => t.messageId);
      expect(new Set(messageIds).size).toBe(messageIds.length);
    }
    const refund = await api.get('payment', `/api/payments?orderId=${outOfStock}`);
    expect(refund.body.items).toMatchObject([{ status: 'REFUNDED', refundedAmount: 20 }]);

    // Analytics counted each event once.
    const summary = await until(
      () => api.get('analytics', '/api/analytics/summary').then((r) => r.body),
      (s) => (s.ordersByStatus.CONFIRMED ?? 0) + (s.ordersByStatus.CANCELLED ?? 0) === 5,
      10_000,
      'analytics',
    );
    expect(summary.eventsByType.OrderPlaced).toBe(5);
    expect(summary.eventsByType.OrderConfirmed).toBe(2);
    expect(summary.eventsByType.OrderCancelled).toBe(4);
    expect(summary.revenue.amount).toBe(20);
  });
});
