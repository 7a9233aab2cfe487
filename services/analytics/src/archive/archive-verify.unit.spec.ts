import { gzipSync } from 'node:zlib';
import { createEnvelope, type Envelope } from '@app/contracts';
import { InMemoryEventStream } from '@app/messaging';
import { createLogger } from '@app/platform';
import { until } from '../../../../test/support/wait';
import { InMemoryArchiveStore } from './archive-store';
import { ArchiveVerifications, type VerificationScope } from './archive-verifications';
import { blobName } from './blob-name';

const topic = 'order-events';
const logger = createLogger({ service: 'verify-test' });
const event = (): Envelope => createEnvelope({ type: 'OrderTouched', key: 'order-1', source: 'order', payload: {} });

/** A blob as the archiver writes it: one line per event at its offset. */
async function putBlob(
  store: InMemoryArchiveStore,
  first: number,
  last: number,
  lines: Array<[number, Envelope]>,
  skipped: number[] = [],
  metadata: Record<string, string> = {},
): Promise<string> {
  const name = blobName(topic, 0, first, last, Date.UTC(2026, 0, 1));
  const body = lines.map(([offset, e]) => JSON.stringify({ topic, partition: 0, offset, timestamp: '2026-01-01T00:00:00.000Z', event: e })).join('\n');
  await store.put(name, gzipSync(Buffer.from(body ? `${body}\n` : '')), {
    topic,
    partition: '0',
    firstoffset: String(first),
    lastoffset: String(last),
    eventcount: String(lines.length),
    skippedoffsets: skipped.join(','),
    ...metadata,
  });
  return name;
}

async function verify(store: InMemoryArchiveStore, committed: number, scope: VerificationScope = {}) {
  const stream = new InMemoryEventStream();
  await stream.ensureTopics([{ topic, partitions: 1 }]);
  for (let i = 0; i < committed; i++) await stream.produce(topic, [{ key: null, value: '{}' }]);
  const handle = await stream.consume({ groupId: 'g', topics: [topic], onBatch: async () => undefined });
  if (committed > 0) await handle.commit([{ topic, partition: 0, offset: committed }]);
  await handle.stop();
  const verifications = new ArchiveVerifications(store, stream, 'g', [topic], logger);
  const job = verifications.start(scope);
  await until(
    () => verifications.get(job.id)!.status,
    (s) => s !== 'running',
    5000,
    'the verification',
  );
  await stream.close();
  return verifications.get(job.id)!;
}

describe('archive verification', () => {
  it('given the same messageId in two blobs at different offsets, then it reports the duplicate by messageId', async () => {
    const store = new InMemoryArchiveStore();
    const [a, b, c] = [event(), event(), event()];
    const first = await putBlob(store, 0, 1, [
      [0, a],
      [1, b],
    ]);
    const second = await putBlob(store, 2, 3, [
      [2, a],
      [3, c],
    ]);
    const job = await verify(store, 4);
    expect(job.status).toBe('done');
    expect(job.report!.ok).toBe(false);
    expect(job.report!.duplicateMessages).toEqual([
      {
        messageId: a.messageId,
        at: [
          { blob: first, offset: 0 },
          { blob: second, offset: 2 },
        ],
      },
    ]);
  });
  it('given offsets recorded as duplicates of an event held elsewhere, and poison offsets written as runs, then they are no gap', async () => {
    const store = new InMemoryArchiveStore();
    const [a, b] = [event(), event()];
    await putBlob(
      store,
      0,
      6,
      [
        [0, a],
        [6, b],
      ],
      [],
      { skippedoffsets: '1-3', duplicateoffsets: '4-5' },
    );
    const job = await verify(store, 7);
    expect(job.report!.ok).toBe(true);
    expect(job.report!.partitions[0]).toMatchObject({ gaps: [], duplicates: [], events: 2 });
    expect(job.report!.duplicateMessages).toEqual([]);
  });

  it('given a range of offsets, then only they are checked: a gap outside it is not reported, one inside it is, and its blobs alone are counted', async () => {
    const store = new InMemoryArchiveStore();
    // Offsets 2 and 3 are missing: no blob holds them.
    await putBlob(store, 0, 1, [
      [0, event()],
      [1, event()],
    ]);
    await putBlob(store, 4, 5, [
      [4, event()],
      [5, event()],
    ]);
    expect((await verify(store, 6)).report!.partitions[0].gaps).toEqual([{ from: 2, to: 3 }]);

    const after = await verify(store, 6, { topic, partition: 0, offsets: { from: 4, to: 9 } });
    expect(after.report!.ok).toBe(true);
    expect(after.report!.partitions[0]).toMatchObject({ window: { from: 4, to: 9 }, gaps: [], events: 2, blobs: 1 });
    expect(after.blobsRead).toBe(1);

    const across = await verify(store, 6, { topic, partition: 0, offsets: { from: 1, to: 4 } });
    expect(across.report!.ok).toBe(false);
    expect(across.report!.partitions[0]).toMatchObject({ gaps: [{ from: 2, to: 3 }], events: 2, blobs: 2 });
  });
});
