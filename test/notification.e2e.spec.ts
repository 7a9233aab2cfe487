import { Api, uniq } from './support/api';
import { startSystem, type SystemUnderTest } from './support/system';
import { until } from './support/wait';

/**
 * The customer hears of the saga's outcome: Notification reads OrderConfirmed and OrderCancelled
 * from its own queue and emails the address the order gave, over real SMTP (an smtp-server sink
 * in the embedded mode's process, or the test's, that keeps what it received).
 */
describe('notifications: an email per outcome', () => {
  let sut: SystemUnderTest;
  let api: Api;

  beforeAll(async () => {
    sut = await startSystem();
    api = new Api(sut);
  });
  afterAll(() => sut?.stop());

  const received = (orderId: string) => sut.smtp!.received.filter((m) => m.messageId?.startsWith(`<${orderId}.`));
  const place = async (customerId: string, sku: string, email?: string) => {
    const r = await api.request('order', 'POST', '/api/orders', { customerId, items: [{ sku, quantity: 2 }], ...(email ? { email } : {}) });
    expect(r.status).toBe(202);
    return r.body.orderId as string;
  };
  const notifications = async (orderId: string) => (await api.admin('notification', 'GET', `/api/notifications?orderId=${orderId}`)).body.items;

  it('emails a confirmation with the lines and total, once, and lists it as sent', async () => {
    const sku = uniq('SKU');
    const customer = uniq('cust');
    await api.product(sku, 12.5, 10);
    await api.account(customer, 100);
    const orderId = await place(customer, sku, 'alice@example.com');
    expect((await api.settled(orderId)).status).toBe('CONFIRMED');

    const [record] = await until(
      () => notifications(orderId),
      (items) => items?.[0]?.status === 'SENT',
      15_000,
      'the confirmation to be sent',
    );
    expect(record).toMatchObject({
      outcome: 'CONFIRMED',
      to: 'alice@example.com',
      customerId: customer,
      attempts: 1,
      subject: `Your order ${orderId.slice(0, 8)} is confirmed`,
    });
    const [mail] = await until(
      () => received(orderId),
      (m) => m.length === 1,
      5_000,
      'the mail to arrive',
    );
    expect(mail.to).toEqual(['alice@example.com']);
    expect(mail.messageId).toBe(record.messageId);
    expect(mail.raw).toContain(sku);
    expect(mail.raw).toMatch(/Total: 25\.00 USD/);
  });

  it('emails a cancellation with its reason in words; a customer’s cancel after confirming sends a second email, one per outcome', async () => {
    const sku = uniq('SKU');
    const poor = uniq('cust');
    const rich = uniq('cust');
    await api.product(sku, 30, 10);
    await api.account(poor, 20);
    await api.account(rich, 500);
    const declined = await place(poor, sku, 'poor@example.com');
    const confirmed = await place(rich, sku, 'rich@example.com');
    expect((await api.settled(declined)).cancellationReason).toBe('PAYMENT_DECLINED');
    expect((await api.settled(confirmed)).status).toBe('CONFIRMED');
    await until(
      () => notifications(confirmed),
      (items) => items?.[0]?.status === 'SENT',
      15_000,
      'the confirmation',
    );
    expect((await api.request('order', 'POST', `/api/orders/${confirmed}/cancel`)).status).toBeLessThan(300);

    const [cancelMail] = await until(
      () => received(declined),
      (m) => m.length === 1,
      15_000,
      'the cancellation mail',
    );
    expect(cancelMail.subject).toBe(`Your order ${declined.slice(0, 8)} was cancelled`);
    expect(cancelMail.raw).toMatch(/payment was declined/);
    const both = await until(
      () => notifications(confirmed),
      (items) => items?.length === 2 && items.every((n: { status: string }) => n.status === 'SENT'),
      20_000,
      'both outcomes',
    );
    expect(both.map((n: { outcome: string }) => n.outcome).sort()).toEqual(['CANCELLED', 'CONFIRMED']);
    const mails = await until(
      () => received(confirmed),
      (m) => m.length === 2,
      5_000,
      'two mails',
    );
    expect(new Set(mails.map((m) => m.messageId)).size).toBe(2);
  });

  it('records an order that gave no address as skipped, and sends nothing', async () => {
    const sku = uniq('SKU');
    const customer = uniq('cust');
    await api.product(sku, 1, 10);
    await api.account(customer, 100);
    const orderId = await place(customer, sku);
    await api.settled(orderId);
    const [record] = await until(
      () => notifications(orderId),
      (items) => items?.length === 1,
      15_000,
      'the record',
    );
    expect(record).toMatchObject({ status: 'SKIPPED', to: null, attempts: 0 });
    expect(received(orderId)).toEqual([]);
  });

  it('while the mail server refuses, retries then dead-letters the outcome with the error (the saga goes on); a replay once it is back sends it once', async () => {
    const sku = uniq('SKU');
    const customer = uniq('cust');
    await api.product(sku, 1, 10);
    await api.account(customer, 100);
    sut.smtp!.refuse();
    let orderId = '';
    try {
      orderId = await place(customer, sku, 'late@example.com');
      expect((await api.settled(orderId)).status).toBe('CONFIRMED');
      const dead = await until(
        async () =>
          (await api.admin('notification', 'GET', '/api/admin/dead-letters')).body.items as Array<{
            id: string;
            failure: { error: string };
            message: { key: string };
          }>,
        (items) => items?.some((d) => d.message?.key === orderId),
        30_000,
        'the outcome to be dead-lettered',
      );
      expect(dead.find((d) => d.message.key === orderId)!.failure.error).toMatch(/421/);
      const [failed] = await notifications(orderId);
      expect(failed).toMatchObject({ status: 'FAILED' });
      expect(failed.attempts).toBeGreaterThanOrEqual(2);
      expect(received(orderId)).toEqual([]);
    } finally {
      sut.smtp!.resume();
    }
    expect((await api.admin('notification', 'POST', '/api/admin/dead-letters/replay')).status).toBeLessThan(300);
    await until(
      () => notifications(orderId),
      (items) => items?.[0]?.status === 'SENT',
      20_000,
      'the replayed outcome to be sent',
    );
    expect(received(orderId)).toHaveLength(1);
  });

  it('refuses a bad address at the door, and lists notifications to admins only', async () => {
    const r = await api.request('order', 'POST', '/api/orders', { customerId: 'alice', items: [{ sku: 'X', quantity: 1 }], email: 'not-an-address' });
    expect(r.status).toBe(400);
    expect(r.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(JSON.stringify(r.body.errors)).toMatch(/email/);
    expect((await api.get('notification', '/api/notifications')).status).toBe(401);
    const bad = await api.admin('notification', 'GET', '/api/notifications?status=LOST');
    expect(bad.status).toBe(400);
  });
});
