import fc from 'fast-check';
import { Api, uniq } from './support/api';
import { bodies, headers, queries, segment, send, type RawRequest } from './support/fuzz';
import { startSystem, type SystemUnderTest } from './support/system';
import { changed } from './support/fingerprint';

/**
 * Every HTTP input of every service, fuzzed (fast-check): random bodies, query strings, path
 * parameters and headers. Whatever comes in, the answer is a 2xx, or a 4xx problem+json that
 * stored and published nothing (the row counts of every service's tables are unchanged);
 * never a 5xx. A GET never changes anything, whatever it answers.
 *
 * FUZZ_RUNS (inputs per endpoint) and FUZZ_SEED make a run repeatable; a failure prints the
 * seed and the shrunk input.
 */
const seed = Number(process.env.FUZZ_SEED ?? 20261201);
const distributed = process.env.E2E_MODE === 'distributed';
const runs = Number(process.env.FUZZ_RUNS ?? (distributed ? 25 : 60));
/** Per endpoint; a long run (FUZZ_RUNS in the thousands) needs FUZZ_TIMEOUT_MS to match. */
const timeoutMs = Number(process.env.FUZZ_TIMEOUT_MS ?? 120_000);

type Service = 'order' | 'payment' | 'inventory' | 'analytics' | 'notification';
interface Endpoint {
  service: Service;
  input: fc.Arbitrary<RawRequest>;
}

describe(`fuzzing every HTTP input (seed ${seed}, ${runs} inputs per endpoint)`, () => {
  let sut: SystemUnderTest;
  let api: Api;
  const sku = uniq('FZ');
  const customer = uniq('fuzz');
  let orderId: string;

  beforeAll(async () => {
    sut = await startSystem({ SAGA_DEADLINE_MS: '600000' });
    api = new Api(sut);
    await api.product(sku, 3, 1_000_000);
    await api.account(customer, 1_000_000);
    orderId = await api.place(customer, [{ sku, quantity: 1 }]);
    await api.settled(orderId);
    await sut.fingerprint.quiet();
  }, 120_000);
  afterAll(() => sut?.stop());

  const endpoints = (): Record<string, Endpoint> => {
    const h = headers(sut.adminToken, { json: true });
    const id = segment([orderId, '00000000-0000-4000-8000-000000000000', 'not-a-uuid']);
    const skus = segment([sku, 'KB-001', 'NO-SUCH-SKU']);
    const customers = segment([customer, 'alice', 'nobody']);
    const req = (method: string, path: fc.Arbitrary<string>, body?: fc.Arbitrary<string | undefined>) =>
      fc.record({ method: fc.constant(method), path, headers: h, body: body ?? fc.constant(undefined) });
    const order = { customerId: customer, items: [{ sku, quantity: 1 }], email: 'fuzz@example.com' };
    const orderItems = (v: Record<string, unknown>) =>
      fc
        .array(fc.record({ sku: fc.oneof(fc.constant(sku), fc.string()), quantity: fc.oneof(fc.integer(), fc.constantFrom(10_000, 10_001, 2 ** 53)) }), {
          maxLength: 60,
        })
        .map((items) => ({ ...v, items }));
    const byService = (service: Service, list: Record<string, fc.Arbitrary<RawRequest>>) =>
      Object.fromEntries(Object.entries(list).map(([name, input]) => [`${service} ${name}`, { service, input }]));
    const health = { 'GET /health/*': req('GET', fc.constantFrom('/health/live', '/health/ready', '/health/x', '/health', '/')) };
    const deadLetters = {
      'GET /api/admin/dead-letters': req(
        'GET',
        queries({}).map((q) => `/api/admin/dead-letters${q}`),
      ),
      'GET /api/admin/dead-letters/:id': req(
        'GET',
        segment(['x']).map((s) => `/api/admin/dead-letters/${s}`),
      ),
      'POST /api/admin/dead-letters/:id/replay': req(
        'POST',
        segment(['x']).map((s) => `/api/admin/dead-letters/${s}/replay`),
        bodies(null),
      ),
    };
    return {
      ...byService('order', {
        ...health,
        ...deadLetters,
        'POST /api/orders': req('POST', fc.constant('/api/orders'), bodies(order, orderItems)),
        'GET /api/orders': req(
          'GET',
          queries({ status: ['PENDING', 'CONFIRMED', 'CANCELLED', 'x'], customerId: [customer] }).map((q) => `/api/orders${q}`),
        ),
        'GET /api/orders/:id': req(
          'GET',
          id.map((s) => `/api/orders/${s}`),
        ),
        'POST /api/orders/:id/cancel': req(
          'POST',
          id.map((s) => `/api/orders/${s}/cancel`),
          bodies(null),
        ),
        'GET /api/products': req(
          'GET',
          queries({}).map((q) => `/api/products${q}`),
        ),
        'PUT /api/products/:sku': req(
          'PUT',
          skus.map((s) => `/api/products/${s}`),
          bodies({ name: 'Fuzzed', unitPrice: 3 }),
        ),
      }),
      ...byService('notification', {
        ...health,
        ...deadLetters,
        'GET /api/notifications': req(
          'GET',
          queries({ orderId: [orderId], customerId: [customer], status: ['SENT', 'SKIPPED', 'FAILED', 'x'] }).map((q) => `/api/notifications${q}`),
        ),
      }),
      ...byService('payment', {
        ...health,
        ...deadLetters,
        'GET /api/accounts/:id': req(
          'GET',
          customers.map((s) => `/api/accounts/${s}`),
        ),
        'PUT /api/accounts/:id': req(
          'PUT',
          customers.map((s) => `/api/accounts/${s}`),
          bodies({ balance: 1_000_000, simulateGatewayError: false }),
        ),
        'GET /api/payments': req(
          'GET',
          queries({ orderId: [orderId], customerId: [customer] }).map((q) => `/api/payments${q}`),
        ),
      }),
      ...byService('inventory', {
        ...health,
        ...deadLetters,
        'GET /api/stock': req(
          'GET',
          queries({}).map((q) => `/api/stock${q}`),
        ),
        'GET /api/stock/:sku': req(
          'GET',
          skus.map((s) => `/api/stock/${s}`),
        ),
        'PUT /api/stock/:sku': req(
          'PUT',
          skus.map((s) => `/api/stock/${s}`),
          bodies({ available: 1_000_000 }),
        ),
        'GET /api/reservations': req(
          'GET',
          queries({ orderId: [orderId] }).map((q) => `/api/reservations${q}`),
        ),
      }),
      ...byService('analytics', {
        ...health,
        'GET /api/analytics/summary': req(
          'GET',
          queries({}).map((q) => `/api/analytics/summary${q}`),
        ),
        'GET /api/analytics/archives': req(
          'GET',
          queries({ prefix: ['2026', '2026/12'], from: ['2026-01-01T00:00:00Z'], to: ['x'] }).map((q) => `/api/analytics/archives${q}`),
        ),
        'GET /api/analytics/archives/*name': req(
          'GET',
          fc
            .oneof(
              segment(['events/2026/12/01/20/order-events-p0-000000000000-000000000001.ndjson.gz']),
              fc.array(segment(['events', '2026', '..', 'order-events-p0-000000000000-000000000001.ndjson.gz']), { maxLength: 8 }).map((p) => p.join('/')),
            )
            .map((n) => `/api/analytics/archives/${n}`),
        ),
        'POST /api/analytics/archives/verifications': req(
          'POST',
          fc.constant('/api/analytics/archives/verifications'),
          bodies({ topic: 'order-events', partition: 0 }),
        ),
        'GET /api/analytics/archives/verifications/:id': req(
          'GET',
          segment(['00000000-0000-4000-8000-000000000000']).map((s) => `/api/analytics/archives/verifications/${s}`),
        ),
      }),
    };
  };

  // One test per endpoint, so a failure names it.
  const names = [
    ...['order', 'payment', 'inventory', 'analytics', 'notification'].flatMap((s) => [`${s} GET /health/*`]),
    ...['order', 'payment', 'inventory', 'notification'].flatMap((s) => [
      `${s} GET /api/admin/dead-letters`,
      `${s} GET /api/admin/dead-letters/:id`,
      `${s} POST /api/admin/dead-letters/:id/replay`,
    ]),
    'order POST /api/orders',
    'order GET /api/orders',
    'order GET /api/orders/:id',
    'order POST /api/orders/:id/cancel',
    'order GET /api/products',
    'order PUT /api/products/:sku',
    'payment GET /api/accounts/:id',
    'payment PUT /api/accounts/:id',
    'payment GET /api/payments',
    'inventory GET /api/stock',
    'inventory GET /api/stock/:sku',
    'inventory PUT /api/stock/:sku',
    'inventory GET /api/reservations',
    'analytics GET /api/analytics/summary',
    'analytics GET /api/analytics/archives',
    'analytics GET /api/analytics/archives/*name',
    'analytics POST /api/analytics/archives/verifications',
    'analytics GET /api/analytics/archives/verifications/:id',
    'notification GET /api/notifications',
  ];

  it.each(names)(
    '%s: 2xx, or a 4xx problem+json that stored nothing; never a 5xx',
    async (name) => {
      const endpoint = endpoints()[name];
      expect(endpoint).toBeDefined();
      let statuses: Record<number, number> = {};
      await fc.assert(
        fc.asyncProperty(endpoint.input, async (input) => {
          const before = await sut.fingerprint.read();
          const r = await send(sut.urls[endpoint.service], input);
          statuses[r.status] = (statuses[r.status] ?? 0) + 1;
          const what = `${input.method} ${input.path.slice(0, 200)} -> ${r.status} ${r.body.slice(0, 300)}`;
          if (r.status >= 500 || r.status < 200) throw new Error(`server error: ${what}`);
          if (r.status >= 400) {
            if (!String(r.headers['content-type']).startsWith('application/problem+json')) throw new Error(`a 4xx that is not problem+json: ${what}`);
            const problem = JSON.parse(r.body) as { status?: number; title?: string };
            if (problem.status !== r.status || !problem.title) throw new Error(`a problem body that does not match its status: ${what}`);
          }
          if (r.status >= 400 || input.method === 'GET') {
            const after = await sut.fingerprint.read();
            if (JSON.stringify(after) !== JSON.stringify(before))
              throw new Error(`${r.status >= 400 ? 'a refused request' : 'a GET'} changed what is stored (${changed(before, after)}): ${what}`);
          } else {
            await sut.fingerprint.quiet();
          }
        }),
        { seed, numRuns: runs, endOnFailure: true },
      );
      // The fuzzer must reach the handlers, not only the validation: some inputs are accepted.
      if (process.env.FUZZ_VERBOSE) console.log(name, statuses);
      statuses = {};
    },
    timeoutMs,
  );
});
