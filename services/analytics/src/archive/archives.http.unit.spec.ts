import { HttpException } from '@nestjs/common';
import type { EventStream } from '@app/messaging';
import { createLogger } from '@app/platform';
import { InMemoryArchiveStore, type ArchiveStore } from './archive-store';
import { ArchiveVerifications } from './archive-verifications';
import { ArchivesHttp, upcastLines } from './archives.http';

/** A dependency that is down answers 503 with a problem, never a 500. */
describe('archive endpoints when a dependency is down', () => {
  const logger = createLogger({ service: 'test' });
  const down = () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:10000'));
  const brokenStore: ArchiveStore = { put: down, list: down, listPage: down, read: down };
  const status = async (p: Promise<unknown> | (() => unknown)) => {
    try {
      await (typeof p === 'function' ? p() : p);
      return 200;
    } catch (error) {
      return error instanceof HttpException ? error.getStatus() : 500;
    }
  };
  const stream = (ready: boolean) => ({ isReady: () => ready }) as unknown as EventStream;
  const res = { setHeader: () => undefined } as never;

  it('answers 503 when the blob store is unreachable', async () => {
    const http = new ArchivesHttp(brokenStore, new ArchiveVerifications(brokenStore, stream(true), 'g', ['order-events'], logger));
    expect(await status(http.list({}))).toBe(503);
    expect(
      await status(
        http.blob('events/2026/01/01/00/order-events-p0-000000000000-000000000001.ndjson.gz', {}, {
          status: () => ({ type: () => ({ send: () => undefined }) }),
        } as never),
      ),
    ).toBe(503);
  });

  it('answers 503 when the event stream is down, and when the archive is switched off', async () => {
    const store = new InMemoryArchiveStore();
    const http = new ArchivesHttp(store, new ArchiveVerifications(store, stream(false), 'g', ['order-events'], logger));
    expect(await status(() => http.start({}, res))).toBe(503);
    const off = new ArchivesHttp(null, null);
    expect(await status(off.list({}))).toBe(503);
    expect(await status(() => off.start({}, res))).toBe(503);
  });

  it('refuses an offset range without its partition, or one that ends before it starts, naming the field', () => {
    const store = new InMemoryArchiveStore();
    const http = new ArchivesHttp(store, new ArchiveVerifications(store, stream(true), 'g', ['order-events'], logger));
    const refusal = (body: unknown) => {
      try {
        http.start(body, res);
      } catch (error) {
        return { status: (error as HttpException).getStatus(), body: JSON.stringify((error as HttpException).getResponse()) };
      }
      throw new Error('accepted');
    };
    expect(refusal({ topic: 'order-events', fromOffset: 3 })).toMatchObject({ status: 400, body: expect.stringContaining('fromOffset') });
    expect(refusal({ topic: 'order-events', partition: 0, fromOffset: 5, toOffset: 2 })).toMatchObject({
      status: 400,
      body: expect.stringContaining('toOffset'),
    });
    expect(http.start({ topic: 'order-events', partition: 0, fromOffset: 2 }, res)).toMatchObject({
      scope: { offsets: { from: 2, to: Number.MAX_SAFE_INTEGER } },
    });
  });

  it('reads an archived v1 OrderPlaced as stored, or upcast to the newest version', () => {
    const v1 = {
      messageId: 'm-1',
      type: 'OrderPlaced',
      version: 1,
      occurredAt: '2026-01-01T00:00:00.000Z',
      correlationId: 'c',
      causationId: null,
      source: 'order',
      key: '3f1d7a43-2d5b-4c55-9b0c-3a3b3f0f4a11',
      payload: {
        orderId: '3f1d7a43-2d5b-4c55-9b0c-3a3b3f0f4a11',
        customerId: 'alice',
        items: [{ sku: 'KB-001', quantity: 2, unitPrice: 8900 }],
        total: 17_800,
        currency: 'USD',
      },
    };
    const unknown = { ...v1, messageId: 'm-2', type: 'SomethingElse' };
    const broken = { ...v1, messageId: 'm-3', payload: { orderId: 'x' } };
    const ndjson = [v1, unknown, broken].map((event, offset) => JSON.stringify({ topic: 'order-events', partition: 0, offset, event })).join('\n');
    const [placed, other, bad] = upcastLines(ndjson)
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(placed.event.version).toBe(2);
    expect(placed.event.payload).toEqual({ ...v1.payload, items: [{ sku: 'KB-001', quantity: 2, unitPrice: 8900, lineTotal: 17_800 }], email: null });
    expect(other.event).toEqual(unknown);
    expect(bad.event).toEqual(broken);
    expect(bad.upcastError).toMatch(/invalid OrderPlaced v1 payload/);
  });
});
