import { Api, uniq } from './support/api';
import { startSystem, type SystemUnderTest } from './support/system';
import { sleep } from '@app/platform';

/** Every bad input gets a 4xx problem+json naming the field; nothing is stored or published. */
describe('bad input', () => {
  let sut: SystemUnderTest;
  let api: Api;
  const sku = uniq('SKU');
  const customer = uniq('cust');

  beforeAll(async () => {
    sut = await startSystem();
    api = new Api(sut);
    await api.product(sku, 2, 10);
    await api.account(customer, 100);
  });
  afterAll(() => sut?.stop());

  const ok = { customerId: customer, items: [{ sku, quantity: 1 }] };
  const cases: Array<[string, unknown, number, string]> = [
    ['malformed JSON', '{"customerId": "x", "items": [', 400, '(body)'],
    ['a JSON array instead of an object', '[1,2]', 400, '(body)'],
    ['an empty body', '', 400, 'customerId'],
    ['customerId missing', { items: ok.items }, 400, 'customerId'],
    ['customerId a number', { ...ok, customerId: 42 }, 400, 'customerId'],
    ['customerId empty', { ...ok, customerId: '' }, 400, 'customerId'],
    ['items missing', { customerId: customer }, 400, 'items'],
    ['items not an array', { ...ok, items: 'KB-001' }, 400, 'items'],
    ['items empty', { ...ok, items: [] }, 400, 'items'],
    ['too many items', { ...ok, items: Array.from({ length: 51 }, (_, i) => ({ sku: `S-${i}`, quantity: 1 })) }, 400, 'items'],
    ['quantity zero', { ...ok, items: [{ sku, quantity: 0 }] }, 400, 'items[0].quantity'],
    ['quantity negative', { ...ok, items: [{ sku, quantity: -3 }] }, 400, 'items[0].quantity'],
    ['quantity not an integer', { ...ok, items: [{ sku, quantity: 1.5 }] }, 400, 'items[0].quantity'],
    ['quantity a string', { ...ok, items: [{ sku, quantity: '2' }] }, 400, 'items[0].quantity'],
    ['quantity missing', { ...ok, items: [{ sku }] }, 400, 'items[0].quantity'],
    ['sku missing', { ...ok, items: [{ quantity: 1 }] }, 400, 'items[0].sku'],
    ['sku with spaces', { ...ok, items: [{ sku: 'A B', quantity: 1 }] }, 400, 'items[0].sku'],
    [
      'the same sku twice',
      {
        ...ok,
        items: [
          { sku, quantity: 1 },
          { sku, quantity: 2 },
        ],
      },
      400,
      'items[1].sku',
    ],
    ['an unknown field', { ...ok, coupon: 'FREE' }, 400, 'coupon'],
    [
      'an unknown SKU',
      {
        ...ok,
        items: [
          { sku, quantity: 1 },
          { sku: 'NO-SUCH-SKU', quantity: 1 },
        ],
      },
      422,
      'items[1].sku',
    ],
    ['a body over the size limit', { ...ok, padding: 'x'.repeat(70_000) }, 413, '(body)'],
  ];

  it.each(cases)('rejects %s', async (_, body, status, field) => {
    const r = await api.request('order', 'POST', '/api/orders', body);
    expect(r.status).toBe(status);
    expect(r.headers.get('content-type')).toContain('application/problem+json');
    expect(r.body).toMatchObject({ status, title: expect.any(String) });
    expect(r.body.errors.map((e: { field: string }) => e.field)).toContain(field);
  });

  it('stored and published nothing for any of them', async () => {
    await sleep(300);
    expect((await api.get('order', `/api/orders?customerId=${customer}`)).body.count).toBe(0);
    expect((await api.get('payment', `/api/payments?customerId=${customer}`)).body.items).toEqual([]);
    expect(await api.balance(customer)).toBe(100);
    const summary = (await api.get('analytics', '/api/analytics/summary')).body;
    expect(summary.eventsByType.OrderPlaced ?? 0).toBe(0);
  });

  it('names the field for bad ids, queries and admin bodies', async () => {
    const expectProblem = async (p: Promise<{ status: number; body: any; headers: Headers }>, status: number, field: string) => {
      const r = await p;
      expect(r.status).toBe(status);
      expect(r.headers.get('content-type')).toContain('application/problem+json');
      expect(r.body.errors.map((e: { field: string }) => e.field)).toContain(field);
    };
    await expectProblem(api.get('order', '/api/orders/not-a-uuid'), 400, 'id');
    await expectProblem(api.get('order', '/api/orders?limit=0'), 400, 'limit');
    await expectProblem(api.get('order', '/api/orders?status=SHIPPED'), 400, 'status');
    await expectProblem(api.request('order', 'POST', '/api/orders/not-a-uuid/cancel'), 400, 'id');
    await expectProblem(api.admin('order', 'PUT', `/api/products/${sku}`, { name: 'x', unitPrice: -1 }), 400, 'unitPrice');
    await expectProblem(api.admin('order', 'PUT', `/api/products/${sku}`, { name: 'x', unitPrice: 1.234 }), 400, 'unitPrice');
    await expectProblem(api.admin('order', 'PUT', `/api/products/${sku}`, { name: 'nul\u0000name', unitPrice: 1 }), 400, 'name');
    await expectProblem(api.admin('inventory', 'PUT', `/api/stock/${sku}`, { available: -1 }), 400, 'available');
    await expectProblem(api.admin('inventory', 'PUT', `/api/stock/${sku}`, { available: 1.5 }), 400, 'available');
    await expectProblem(api.admin('payment', 'PUT', `/api/accounts/${customer}`, { balance: 'lots' }), 400, 'balance');
    await expectProblem(api.get('payment', '/api/payments?orderId=nope'), 400, 'orderId');
    await expectProblem(api.get('inventory', '/api/reservations?orderId=nope'), 400, 'orderId');
  });

  it('answers 404 for what does not exist', async () => {
    expect((await api.get('order', '/api/orders/7b0b8f0e-0000-4000-8000-000000000000')).status).toBe(404);
    expect((await api.request('order', 'POST', '/api/orders/7b0b8f0e-0000-4000-8000-000000000000/cancel')).status).toBe(404);
    expect((await api.get('payment', `/api/accounts/${uniq('ghost')}`)).status).toBe(404);
    expect((await api.get('inventory', `/api/stock/${uniq('GHOST')}`)).status).toBe(404);
  });

  it('protects admin operations with the bearer token', async () => {
    const put = (headers: Record<string, string>) => api.request('order', 'PUT', `/api/products/${sku}`, { name: 'x', unitPrice: 1 }, headers);
    expect((await put({})).status).toBe(401);
    expect((await put({ authorization: 'Bearer wrong-token-wrong-token' })).status).toBe(403);
    expect((await api.request('inventory', 'PUT', `/api/stock/${sku}`, { available: 1 })).status).toBe(401);
    expect((await api.request('payment', 'PUT', `/api/accounts/${customer}`, { balance: 1 })).status).toBe(401);
    expect((await api.request('inventory', 'GET', '/api/admin/dead-letters')).status).toBe(401);
    // untouched
    expect((await api.get('order', '/api/products')).body.items.find((p: { sku: string }) => p.sku === sku).unitPrice).toBe(2);
  });

  it('answers health checks on every service', async () => {
    for (const service of ['order', 'payment', 'inventory', 'analytics'] as const) {
      expect((await api.get(service, '/health/live')).status).toBe(200);
      const ready = await api.get(service, '/health/ready');
      expect(ready.status).toBe(200);
      expect(ready.body.status).toBe('ok');
    }
  });
});
