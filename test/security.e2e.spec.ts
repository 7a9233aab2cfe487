import { BlobServiceClient } from '@azure/storage-blob';
import { request as httpRequest } from 'node:http';
import { gzipSync } from 'node:zlib';
import { Api, uniq } from './support/api';
import { startSystem, type SystemUnderTest } from './support/system';
import { until } from './support/wait';

/** A GET whose path is sent exactly as given: fetch (WHATWG URL) would resolve `..` itself. */
function rawGet(base: string, path: string): Promise<{ status: number; body: string; headers: Record<string, string | string[] | undefined> }> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: url.hostname, port: url.port, path, method: 'GET' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * The defects the security review found, each as the request that exploited it: reading another
 * container's blob through the archive endpoint, unbounded lists, an order total no contract
 * accepts, and missing security headers.
 */
describe('security', () => {
  let sut: SystemUnderTest;
  let api: Api;

  beforeAll(async () => {
    sut = await startSystem({ ARCHIVE_BATCH_MAX_MS: '100', ARCHIVE_BATCH_MAX_EVENTS: '2' });
    api = new Api(sut);
  });
  afterAll(() => sut?.stop());

  it('never serves a blob of another container, however the archive name is spelled', async () => {
    // A second container of the same storage account, holding a secret.
    const service = BlobServiceClient.fromConnectionString(sut.blobConnectionString);
    const secrets = service.getContainerClient(uniq('other').toLowerCase());
    await secrets.createIfNotExists();
    await secrets.getBlockBlobClient('x.ndjson.gz').uploadData(gzipSync(Buffer.from('{"secret":"the vault code"}\n')));
    await secrets
      .getBlockBlobClient('events/2026/01/01/00/order-events-p0-000000000000-000000000001.ndjson.gz')
      .uploadData(gzipSync(Buffer.from('{"secret":1}\n')));

    const attempts = [
      `events/../../${secrets.containerName}/x.ndjson.gz`,
      `events/2026/../../../${secrets.containerName}/x.ndjson.gz`,
      `events/%2e%2e/%2e%2e/${secrets.containerName}/x.ndjson.gz`,
      `events/..%2f..%2f${secrets.containerName}%2fx.ndjson.gz`,
      `events/2026/01/01/00/../../../../../${secrets.containerName}/events/2026/01/01/00/order-events-p0-000000000000-000000000001.ndjson.gz`,
      `events//2026/01/01/00/order-events-p0-000000000000-000000000001.ndjson.gz`,
      `events/2026/13/01/00/order-events-p0-000000000000-000000000001.ndjson.gz`,
      `events/2026/01/01/00/no-such-topic-p0-000000000000-000000000001.ndjson.gz`,
    ];
    for (const name of attempts) {
      const r = await rawGet(sut.urls.analytics, `/api/analytics/archives/${name}`);
      expect({ name, status: r.status }).toEqual({ name, status: 400 });
      expect(r.body).not.toContain('vault code');
      expect(r.body).not.toContain('"secret"');
      expect(r.headers['content-type']).toContain('application/problem+json');
    }
  });

  it('pages the archive list with a limit and a continuation token', async () => {
    const sku = uniq('SKU');
    const customer = uniq('cust');
    await api.product(sku, 1, 10);
    await api.account(customer, 100);
    const ids = await Promise.all(Array.from({ length: 4 }, () => api.place(customer, [{ sku, quantity: 1 }])));
    await Promise.all(ids.map((id) => api.settled(id)));
    const all = await until(
      () => api.get('analytics', '/api/analytics/archives?limit=1000').then((r) => r.body),
      (b) => b?.items?.length >= 3,
      20_000,
      'some blobs',
    );
    const names: string[] = [];
    let token: string | null = null;
    for (let page = 0; page < 100; page++) {
      const r: { status: number; body: { items: Array<{ name: string }>; continuationToken: string | null } } = await api.get(
        'analytics',
        `/api/analytics/archives?limit=2${token ? `&continuationToken=${encodeURIComponent(token)}` : ''}`,
      );
      expect(r.status).toBe(200);
      expect(r.body.items.length).toBeLessThanOrEqual(2);
      names.push(...r.body.items.map((i) => i.name));
      token = r.body.continuationToken;
      if (!token) break;
    }
    // Blobs keep arriving while the walk runs: every blob listed before it is met, once, in order.
    expect(new Set(names).size).toBe(names.length);
    expect([...names].sort()).toEqual(names);
    for (const i of all.items) expect(names).toContain(i.name);
    expect((await api.get('analytics', '/api/analytics/archives?limit=100000')).status).toBe(400);
    expect((await api.get('analytics', '/api/analytics/archives?limit=0')).status).toBe(400);
  });

  it('runs verify as a bounded background job that an admin starts and anyone reads', async () => {
    expect((await api.request('analytics', 'POST', '/api/analytics/archives/verifications', {})).status).toBe(401);
    const started = await api.admin('analytics', 'POST', '/api/analytics/archives/verifications', {});
    expect(started.status).toBe(202);
    const location = started.headers.get('location')!;
    expect(location).toMatch(/^\/api\/analytics\/archives\/verifications\/[0-9a-f-]{36}$/);
    const done = await until(
      () => api.get('analytics', location).then((r) => r.body),
      (b) => b?.status === 'done',
      20_000,
      'the verification to finish',
    );
    expect({ ok: done.report.ok, bad: done.report.partitions.filter((p: { ok: boolean }) => !p.ok) }).toEqual({ ok: true, bad: [] });
    expect(done.report.summary).toMatch(/exactly once/);
    expect((await api.get('analytics', '/api/analytics/archives/verifications/00000000-0000-4000-8000-000000000000')).status).toBe(404);
    expect((await api.admin('analytics', 'POST', '/api/analytics/archives/verifications', { topic: 'no-such-topic' })).status).toBe(400);
  });

  it("serves every service's dead letters, Analytics' among them, to an admin only", async () => {
    for (const service of ['order', 'payment', 'inventory', 'analytics', 'notification'] as const) {
      for (const [method, path] of [
        ['GET', '/api/admin/dead-letters'],
        ['GET', `/api/admin/dead-letters/${service}:1`],
        ['POST', '/api/admin/dead-letters/replay'],
        ['POST', `/api/admin/dead-letters/${service}:1/replay`],
        ['DELETE', '/api/admin/dead-letters'],
        ['DELETE', `/api/admin/dead-letters/${service}:1`],
      ]) {
        expect({ service, method, path, status: (await api.request(service, method, path)).status }).toEqual({ service, method, path, status: 401 });
      }
      expect((await api.admin(service, 'GET', '/api/admin/dead-letters')).status).toBe(200);
    }
  });

  it('refuses at the door an order whose total no contract could carry', async () => {
    const customer = uniq('cust');
    await api.account(customer, 1_000_000_000);
    const skus = Array.from({ length: 10 }, () => uniq('GOLD'));
    for (const sku of skus) await api.product(sku, 1_000_000_000, 10_000);
    const before = (await api.get('order', `/api/orders?customerId=${customer}`)).body.items.length;
    const r = await api.placeOrder(
      customer,
      skus.map((sku) => ({ sku, quantity: 10_000 })),
    );
    expect(r.status).toBe(422);
    expect(r.headers.get('content-type')).toContain('application/problem+json');
    expect(r.body.errors.map((e: { field: string }) => e.field)).toContain('items');
    expect((await api.get('order', `/api/orders?customerId=${customer}`)).body.items.length).toBe(before);
  });

  it('sends the security headers on every service, and no x-powered-by', async () => {
    for (const service of ['order', 'payment', 'inventory', 'analytics'] as const) {
      for (const path of ['/health/live', '/api/no-such-route']) {
        const r = await api.get(service, path);
        expect(r.headers.get('x-content-type-options')).toBe('nosniff');
        expect(r.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
        expect(r.headers.get('x-frame-options')).toBe('DENY');
        expect(r.headers.get('x-powered-by')).toBeNull();
        expect(r.headers.get('access-control-allow-origin')).toBeNull();
      }
    }
  });

  it('pages every list with a limit and a cursor', async () => {
    const sku = uniq('SKU');
    const customer = uniq('cust');
    await api.product(sku, 1, 10);
    await api.account(customer, 100);
    const ids = await Promise.all(Array.from({ length: 5 }, () => api.place(customer, [{ sku, quantity: 1 }])));
    await Promise.all(ids.map((id) => api.settled(id)));

    const walk = async (service: 'order' | 'payment', path: string): Promise<string[]> => {
      const seen: string[] = [];
      let cursor: string | null = null;
      for (let page = 0; page < 20; page++) {
        const r: { status: number; body: { items: Array<{ orderId: string }>; nextCursor: string | null } } = await api.get(
          service,
          `${path}&limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
        );
        expect(r.status).toBe(200);
        expect(r.body.items.length).toBeLessThanOrEqual(2);
        seen.push(...r.body.items.map((i) => i.orderId));
        cursor = r.body.nextCursor;
        if (!cursor) break;
      }
      return seen;
    };
    expect((await walk('order', `/api/orders?customerId=${customer}`)).sort()).toEqual([...ids].sort());
    expect((await walk('payment', `/api/payments?customerId=${customer}`)).sort()).toEqual([...ids].sort());
    for (const [service, path] of [
      ['order', '/api/orders?cursor=not-a-cursor'],
      ['order', '/api/products?cursor=%00'],
      ['inventory', '/api/stock?limit=501'],
      ['payment', `/api/payments?customerId=${customer}&limit=-1`],
    ] as const) {
      const r = await api.get(service, path);
      expect({ path, status: r.status }).toEqual({ path, status: 400 });
    }
    const products = await api.get('order', '/api/products?limit=1');
    expect(products.body.items).toHaveLength(1);
    expect(typeof products.body.nextCursor).toBe('string');
    const stock = await api.get('inventory', '/api/stock?limit=1');
    expect(stock.body.items).toHaveLength(1);
    expect(typeof stock.body.nextCursor).toBe('string');
  });
});
