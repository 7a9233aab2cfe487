import { Api, quiet, uniq } from './support/api';
import { startSystem, type SystemUnderTest } from './support/system';
import { until } from './support/wait';

describe('order saga over HTTP', () => {
  let sut: SystemUnderTest;
  let api: Api;

  beforeAll(async () => {
    sut = await startSystem();
    api = new Api(sut);
  });
  afterAll(() => sut?.stop());

  const types = (order: { timeline: Array<{ type: string }> }) => order.timeline.map((t) => t.type);

  it('confirms an order: payment taken, stock reserved, timeline complete', async () => {
    const sku = uniq('SKU');
    const customer = uniq('cust');
    await api.product(sku, 12.5, 10);
    await api.account(customer, 100);

    const placed = await api.placeOrder(customer, [{ sku, quantity: 2 }]);
    expect(placed.status).toBe(202);
    expect(placed.body).toMatchObject({ status: 'PENDING', total: 25, currency: 'USD' });
    expect(placed.headers.get('location')).toBe(`/api/orders/${placed.body.orderId}`);

    const order = await api.settled(placed.body.orderId);
    expect(order).toMatchObject({ status: 'CONFIRMED', cancellationReason: null, total: 25, customerId: customer });
    expect(order.items).toEqual([{ sku, quantity: 2, unitPrice: 12.5, lineTotal: 25 }]);
    expect(types(order)).toEqual(['OrderPlaced', 'PaymentAuthorized', 'StockReserved', 'OrderConfirmed']);
    expect(order.timeline.map((t: { source: string }) => t.source)).toEqual(['order', 'payment', 'inventory', 'order']);

    expect(await api.balance(customer)).toBe(75);
    expect(await api.stock(sku)).toMatchObject({ available: 8, reserved: 2 });
    const payments = await api.get('payment', `/api/payments?orderId=${order.orderId}`);
    expect(payments.body.items).toMatchObject([{ status: 'AUTHORIZED', amount: 25 }]);
    const reservations = await api.get('inventory', `/api/reservations?orderId=${order.orderId}`);
    expect(reservations.body.items).toMatchObject([{ status: 'RESERVED' }]);
  });

  it('cancels when the payment is declined, and moves no money or stock', async () => {
    const sku = uniq('SKU');
    const customer = uniq('cust');
    await api.product(sku, 30, 10);
    await api.account(customer, 20);
    const order = await api.settled(await api.place(customer, [{ sku, quantity: 1 }]));
    expect(order).toMatchObject({ status: 'CANCELLED', cancellationReason: 'PAYMENT_DECLINED' });
    expect(types(order)).toEqual(['OrderPlaced', 'PaymentDeclined', 'OrderCancelled']);
    expect(await api.balance(customer)).toBe(20);
    expect(await api.stock(sku)).toMatchObject({ available: 10, reserved: 0 });
  });

  it('declines an unknown customer', async () => {
    const sku = uniq('SKU');
    await api.product(sku, 1, 10);
    const order = await api.settled(await api.place(uniq('nobody'), [{ sku, quantity: 1 }]));
    expect(order).toMatchObject({ status: 'CANCELLED', cancellationReason: 'PAYMENT_DECLINED' });
  });

  it('refunds the payment when stock is short, then cancels', async () => {
    const a = uniq('SKU');
    const b = uniq('SKU');
    const customer = uniq('cust');
    await api.product(a, 10, 5);
    await api.product(b, 10, 1);
    await api.account(customer, 100);
    const order = await api.settled(
      await api.place(customer, [
        { sku: a, quantity: 2 },
        { sku: b, quantity: 2 },
      ]),
    );
    expect(order).toMatchObject({ status: 'CANCELLED', cancellationReason: 'OUT_OF_STOCK' });
    expect(types(order)).toEqual(['OrderPlaced', 'PaymentAuthorized', 'StockReservationFailed', 'RefundPayment', 'PaymentRefunded', 'OrderCancelled']);
    expect(await api.balance(customer)).toBe(100);
    // nothing partially reserved
    expect(await api.stock(a)).toMatchObject({ available: 5, reserved: 0 });
    expect(await api.stock(b)).toMatchObject({ available: 1, reserved: 0 });
    const reservations = await api.get('inventory', `/api/reservations?orderId=${order.orderId}`);
    expect(reservations.body.items[0]).toMatchObject({ status: 'FAILED' });
    expect(reservations.body.items[0].shortages).toEqual([{ sku: b, requested: 2, available: 1 }]);
    const payments = await api.get('payment', `/api/payments?orderId=${order.orderId}`);
    expect(payments.body.items).toMatchObject([{ status: 'REFUNDED', refundedAmount: 40 }]);
  });

  it('cancels a confirmed order on request: refunds and releases, once', async () => {
    const sku = uniq('SKU');
    const customer = uniq('cust');
    await api.product(sku, 5, 10);
    await api.account(customer, 50);
    const id = await api.place(customer, [{ sku, quantity: 3 }]);
    expect((await api.settled(id)).status).toBe('CONFIRMED');
    expect(await api.balance(customer)).toBe(35);

    const cancel = await api.request('order', 'POST', `/api/orders/${id}/cancel`);
    expect(cancel.status).toBe(202);
    expect(cancel.body.status).toBe('CANCELLING');
    const order = await api.settled(id);
    expect(order).toMatchObject({ status: 'CANCELLED', cancellationReason: 'CUSTOMER_REQUEST' });
    expect(types(order)).toEqual(expect.arrayContaining(['RefundPayment', 'ReleaseStock', 'PaymentRefunded', 'StockReleased', 'OrderCancelled']));
    expect(await api.balance(customer)).toBe(50);
    expect(await api.stock(sku)).toMatchObject({ available: 10, reserved: 0 });

    const again = await api.request('order', 'POST', `/api/orders/${id}/cancel`);
    expect(again.status).toBe(409);
    expect(again.headers.get('content-type')).toContain('application/problem+json');
    await quiet(() => Promise.all([api.balance(customer), api.stock(sku)]));
    expect(await api.balance(customer)).toBe(50);
  });

  it('cancels a pending order on request and undoes whatever had happened', async () => {
    const sku = uniq('SKU');
    const customer = uniq('cust');
    await api.product(sku, 5, 10);
    await api.account(customer, 50);
    const id = await api.place(customer, [{ sku, quantity: 1 }]);
    const cancel = await api.request('order', 'POST', `/api/orders/${id}/cancel`);
    // It may already be confirmed by the time the cancel lands; either way it must end cancelled.
    expect(cancel.status).toBe(202);
    const order = await api.settled(id);
    expect(order).toMatchObject({ status: 'CANCELLED', cancellationReason: 'CUSTOMER_REQUEST' });
    await quiet(() => Promise.all([api.balance(customer), api.stock(sku)]));
    expect(await api.balance(customer)).toBe(50);
    expect(await api.stock(sku)).toMatchObject({ available: 10, reserved: 0 });
  });

  it('dead-letters a message that keeps failing, cancels the order with PROCESSING_FAILED and compensates', async () => {
    const sku = uniq('SKU');
    const customer = uniq('cust');
    await api.product(sku, 5, 10);
    // The simulated gateway fails every authorization for this account (a provider's test card).
    await api.account(customer, 50, true);
    const id = await api.place(customer, [{ sku, quantity: 1 }]);
    const order = await api.settled(id);
    expect(order).toMatchObject({ status: 'CANCELLED', cancellationReason: 'PROCESSING_FAILED' });
    expect(types(order)).toEqual(
      expect.arrayContaining(['SagaStepFailed', 'RefundPayment', 'ReleaseStock', 'PaymentRefunded', 'StockReleased', 'OrderCancelled']),
    );
    expect(await api.balance(customer)).toBe(50);
    expect(await api.stock(sku)).toMatchObject({ available: 10, reserved: 0 });

    const dlq = await api.admin('payment', 'GET', '/api/admin/dead-letters');
    expect(dlq.status).toBe(200);
    const dead = dlq.body.items.find((d: { message: { key: string } }) => d.message.key === id);
    expect(dead).toBeDefined();
    expect(dead.message.type).toBe('OrderPlaced');
    expect(dead.failure).toMatchObject({ deliveries: 3, attempts: 6, nonRetryable: false });
    expect(dead.failure.error).toMatch(/gateway/i);
    const one = await api.admin('payment', 'GET', `/api/admin/dead-letters/${dead.id}`);
    expect(one.body.id).toBe(dead.id);
    expect((await api.get('payment', '/api/admin/dead-letters')).status).toBe(401);
  });

  it('returns the same order for a repeated Idempotency-Key, and refuses the key with another body', async () => {
    const sku = uniq('SKU');
    const customer = uniq('cust');
    await api.product(sku, 1, 10);
    await api.account(customer, 100);
    const key = uniq('idem');
    const first = await api.placeOrder(customer, [{ sku, quantity: 1 }], { 'Idempotency-Key': key });
    const second = await api.placeOrder(customer, [{ sku, quantity: 1 }], { 'Idempotency-Key': key });
    expect(first.status).toBe(202);
    expect(second.status).toBe(202);
    expect(second.body.orderId).toBe(first.body.orderId);
    const other = await api.placeOrder(customer, [{ sku, quantity: 2 }], { 'Idempotency-Key': key });
    expect(other.status).toBe(422);
    expect(other.body.errors[0].field).toBe('Idempotency-Key');
    await api.settled(first.body.orderId);
    const list = await api.get('order', `/api/orders?customerId=${customer}`);
    expect(list.body.count).toBe(1);
    expect(await api.balance(customer)).toBe(99);
  });

  it('lists orders by status and customer', async () => {
    const sku = uniq('SKU');
    const customer = uniq('cust');
    await api.product(sku, 1, 10);
    await api.account(customer, 1);
    const ok = await api.place(customer, [{ sku, quantity: 1 }]);
    const declined = await api.place(customer, [{ sku, quantity: 1 }]);
    await api.settled(ok);
    await api.settled(declined);
    const confirmed = await api.get('order', `/api/orders?customerId=${customer}&status=CONFIRMED`);
    const cancelled = await api.get('order', `/api/orders?customerId=${customer}&status=CANCELLED&limit=5`);
    expect(confirmed.body.count + cancelled.body.count).toBe(2);
    expect(confirmed.body.count).toBe(1);
  });

  it('feeds the analytics summary from the event stream', async () => {
    const summary = await until(
      () => api.get('analytics', '/api/analytics/summary').then((r) => r.body),
      (s) => (s?.ordersByStatus?.CONFIRMED ?? 0) >= 2,
      10_000,
      'analytics to catch up',
    );
    expect(summary.revenue.currency).toBe('USD');
    expect(summary.revenue.amount).toBeGreaterThan(0);
    expect(summary.cancellationReasons.PAYMENT_DECLINED).toBeGreaterThanOrEqual(1);
    expect(summary.sagaDurationMs.p50).toBeGreaterThanOrEqual(0);
    expect(summary.sagaDurationMs.p95).toBeGreaterThanOrEqual(summary.sagaDurationMs.p50);
  });
});
