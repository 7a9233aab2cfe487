import { BlobServiceClient } from '@azure/storage-blob';
import { gunzipSync } from 'node:zlib';
import { Api, uniq } from './support/api';
import { startSystem, type SystemUnderTest } from './support/system';
import { until } from './support/wait';

/**
 * The analytics archive over HTTP, checked against a direct read of the blobs with the Azure
 * SDK: every event of a saga run is archived exactly once.
 */
describe('analytics archive', () => {
  let sut: SystemUnderTest;
  let api: Api;

  beforeAll(async () => {
    sut = await startSystem({ ARCHIVE_BATCH_MAX_MS: '200', ARCHIVE_BATCH_MAX_EVENTS: '7' });
    api = new Api(sut);
  });
  afterAll(() => sut?.stop());

  it('archives every event of a saga run exactly once, and verify agrees with the blobs', async () => {
    const sku = uniq('SKU');
    const customer = uniq('cust');
    await api.product(sku, 2, 5);
    await api.account(customer, 7);
    const ids = await Promise.all(Array.from({ length: 8 }, () => api.place(customer, [{ sku, quantity: 1 }])));
    await Promise.all(ids.map((id) => api.settled(id)));

    // What the services published: every timeline message that left a service (all but the
    // deadline, which Order handles in-process) — read from the order timelines.
    const orders = await Promise.all(ids.map((id) => api.order(id)));
    const published = new Set<string>(
      orders.flatMap((o) =>
        o.timeline
          .filter((t: { type: string }) => !['OrderDeadlineReached', 'CancelRequested'].includes(t.type))
          .map((t: { messageId: string }) => t.messageId),
      ),
    );

    const verify = await until(
      () => api.verifyArchive(),
      (v) => v?.ok === true && v.partitions.every((p: { committed: number; low: number }) => p.committed >= 0) && v.events >= published.size,
      20_000,
      'the archive to cover the run',
    );
    expect(verify.summary).toMatch(/exactly once/);

    const list = await api.get('analytics', '/api/analytics/archives');
    expect(list.status).toBe(200);
    expect(list.body.count).toBeGreaterThan(0);
    for (const b of list.body.items) {
      expect(b.name).toMatch(/^events\/\d{4}\/\d{2}\/\d{2}\/\d{2}\/[a-z.-]+-p\d+-\d{12}-\d{12}\.ndjson\.gz$/);
      expect(b.lastOffset).toBeGreaterThanOrEqual(b.firstOffset);
    }

    // Direct read of every blob with the Azure SDK.
    const container = BlobServiceClient.fromConnectionString(sut.blobConnectionString!).getContainerClient(sut.archiveContainer);
    const seen = new Map<string, number>();
    const offsets = new Set<string>();
    let lines = 0;
    for await (const b of container.listBlobsFlat({ prefix: 'events/' })) {
      const text = gunzipSync(await container.getBlobClient(b.name).downloadToBuffer()).toString('utf8');
      for (const line of text.split('\n').filter(Boolean)) {
        const rec = JSON.parse(line) as { topic: string; partition: number; offset: number; event: { messageId: string } };
        lines++;
        seen.set(rec.event.messageId, (seen.get(rec.event.messageId) ?? 0) + 1);
        offsets.add(`${rec.topic}#${rec.partition}#${rec.offset}`);
      }
    }
    expect(offsets.size).toBe(lines); // no offset twice
    expect([...seen.values()].every((n) => n === 1)).toBe(true); // no event twice
    for (const id of published) expect(seen.get(id)).toBe(1); // every published event present
    expect(verify.events).toBe(lines);

    // One blob through the API, as NDJSON.
    const first = list.body.items[0];
    const res = await fetch(`${sut.urls.analytics}/api/analytics/archives/${first.name}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('application/x-ndjson');
    const body = (await res.text()).split('\n').filter(Boolean);
    expect(body).toHaveLength(first.eventCount);

    // Listing by prefix and time
    const hour = first.name.split('/').slice(1, 5).join('/');
    expect((await api.get('analytics', `/api/analytics/archives?prefix=${hour}`)).body.count).toBeGreaterThan(0);
    expect((await api.get('analytics', '/api/analytics/archives?from=2999-01-01T00:00:00Z')).body.count).toBe(0);
  });

  it('rejects bad archive requests with problem details', async () => {
    expect((await api.get('analytics', '/api/analytics/archives?from=yesterday')).status).toBe(400);
    expect((await api.get('analytics', '/api/analytics/archives?prefix=../../etc')).status).toBe(400);
    expect((await api.get('analytics', '/api/analytics/archives/events/2026/01/01/00/order-events-p0-999999999990-999999999991.ndjson.gz')).status).toBe(404);
    expect((await api.get('analytics', '/api/analytics/archives/not-a-blob')).status).toBe(400);
  });
});
