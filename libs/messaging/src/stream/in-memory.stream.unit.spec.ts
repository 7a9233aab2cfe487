import { createEnvelope, type Envelope } from '@app/contracts';
import { InMemoryEventStream, murmur2, partitionForKey } from './in-memory.stream';
import { eventTopic, type StreamBatch, type StreamRecord } from './stream';
import { sleep } from '@app/platform';

const topic = eventTopic('order');

function event(orderId: string, seq: number): Envelope<{ orderId: string; seq: number }> {
  return createEnvelope({ type: 'OrderTouched', key: orderId, source: 'order', payload: { orderId, seq } });
}

const until = async (cond: () => boolean, ms = 3000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(2);
  }
};

async function streamWith(partitions = 3, options: ConstructorParameters<typeof InMemoryEventStream>[0] = {}) {
  const stream = new InMemoryEventStream({ retryDelayMs: 5, ...options });
  await stream.ensureTopics([{ topic, partitions }]);
  return stream;
}

/** Collects what a group reads, per partition, and lets the test decide what to commit. */
function collector() {
  const seen: StreamRecord[] = [];
  return {
    seen,
    onBatch: async (batch: StreamBatch) => void seen.push(...batch.records),
    /** Per partition read so far: the offset just past its first `n` records. */
    offsetsAfter: (n: number) =>
      [...new Set(seen.map((r) => r.partition))].map((partition) => {
        const mine = seen.filter((r) => r.partition === partition);
        return { topic, partition, offset: mine[Math.min(n, mine.length) - 1].offset + 1 };
      }),
  };
}

describe('in-memory event stream', () => {
  it("given Kafka's murmur2 test vectors, then the partitioner hashes keys as Kafka does", () => {
    // org.apache.kafka.common.utils.UtilsTest#testMurmur2
    const vectors: Array<[string, number]> = [
      ['21', -973932308],
      ['foobar', -790332482],
      ['a-little-bit-long-string', -985981536],
      ['a-little-bit-longer-string', -1486304829],
      ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
    ];
    for (const [key, hash] of vectors) expect(murmur2(Buffer.from(key))).toBe(hash);
    expect(partitionForKey('21', 6)).toBe((-973932308 & 0x7fffffff) % 6);
  });

  it('given events of many orders, when published, then each order stays in one partition, in order, at offsets from 0', async () => {
    const stream = await streamWith(4);
    const orders = Array.from({ length: 12 }, (_, i) => `order-${i}`);
    for (let seq = 0; seq < 5; seq++) {
      await stream.publish(orders.map((o) => ({ envelope: event(o, seq), routingKey: 'order.order-touched' })));
    }
    const c = collector();
    const handle = await stream.consume({ groupId: 'g', topics: [topic], onBatch: c.onBatch });
    await until(() => c.seen.length === 60);
    await handle.stop();

    for (const o of orders) {
      const mine = c.seen.filter((r) => r.key === o);
      expect(new Set(mine.map((r) => r.partition))).toEqual(new Set([partitionForKey(o, 4)]));
      expect(mine.map((r) => (JSON.parse(r.value) as Envelope<{ seq: number }>).payload.seq)).toEqual([0, 1, 2, 3, 4]);
      expect(mine[0].headers).toMatchObject({ 'message-type': 'OrderTouched', 'message-id': (JSON.parse(mine[0].value) as Envelope).messageId });
    }
    expect(new Set(c.seen.map((r) => r.partition)).size).toBeGreaterThan(1);
    const marks = await stream.watermarks(topic);
    for (const m of marks) {
      expect(c.seen.filter((r) => r.partition === m.partition).map((r) => r.offset)).toEqual(Array.from({ length: m.high }, (_, i) => i));
      expect(m.low).toBe(0);
    }
    expect(marks.reduce((n, m) => n + m.high, 0)).toBe(60);
  });

  it('given a group that committed part of what it read, when it restarts, then it resumes at the commit and gets the rest again', async () => {
    const stream = await streamWith(2);
    await stream.produce(
      topic,
      Array.from({ length: 20 }, (_, i) => ({ key: `k${i % 5}`, value: String(i) })),
    );
    const first = collector();
    const h1 = await stream.consume({ groupId: 'g', topics: [topic], onBatch: first.onBatch });
    await until(() => first.seen.length === 20);
    const commits = first.offsetsAfter(2);
    await h1.commit(commits);
    await h1.stop();
    expect(await stream.committed('g', topic)).toEqual(expect.arrayContaining(commits.map(({ partition, offset }) => ({ partition, offset }))));

    const second = collector();
    const h2 = await stream.consume({ groupId: 'g', topics: [topic], onBatch: second.onBatch });
    const expected = first.seen.filter((r) => r.offset >= commits.find((c) => c.partition === r.partition)!.offset);
    await until(() => second.seen.length === expected.length);
    await sleep(20);
    await h2.stop();
    expect(second.seen.map((r) => [r.partition, r.offset, r.value, r.timestamp]).sort()).toEqual(
      expected.map((r) => [r.partition, r.offset, r.value, r.timestamp]).sort(),
    );

    // Another group has its own position: from the beginning.
    const other = collector();
    const h3 = await stream.consume({ groupId: 'other', topics: [topic], onBatch: other.onBatch });
    await until(() => other.seen.length === 20);
    await h3.stop();
    expect(await stream.committed('other', topic)).toEqual([
      { partition: 0, offset: 0 },
      { partition: 1, offset: 0 },
    ]);
  });

  it('given a group that never committed, when it restarts, then it reads everything again', async () => {
    const stream = await streamWith(1);
    await stream.produce(topic, [
      { key: 'a', value: '1' },
      { key: 'a', value: '2' },
    ]);
    const first = collector();
    const h1 = await stream.consume({ groupId: 'g', topics: [topic], onBatch: first.onBatch });
    await until(() => first.seen.length === 2);
    await h1.stop();
    const second = collector();
    const h2 = await stream.consume({ groupId: 'g', topics: [topic], onBatch: second.onBatch });
    await until(() => second.seen.length === 2);
    await h2.stop();
    expect(second.seen.map((r) => r.value)).toEqual(['1', '2']);
  });

  it('given onBatch throws, then the position stays and the same records come again, in order', async () => {
    const stream = await streamWith(1);
    await stream.produce(
      topic,
      [1, 2, 3].map((i) => ({ key: 'a', value: String(i) })),
    );
    const calls: string[][] = [];
    let failures = 2;
    const h = await stream.consume({
      groupId: 'g',
      topics: [topic],
      onBatch: async (batch) => {
        calls.push(batch.records.map((r) => r.value));
        if (failures-- > 0) throw new Error('database down');
      },
    });
    await until(() => calls.length === 3);
    await stream.produce(topic, [{ key: 'a', value: '4' }]);
    await until(() => calls.length === 4);
    await h.stop();
    expect(calls).toEqual([['1', '2', '3'], ['1', '2', '3'], ['1', '2', '3'], ['4']]);
  });

  it('given slow handlers, then one partition never has two batches in flight while partitions run side by side', async () => {
    const stream = await streamWith(3, { maxBatchRecords: 2 });
    const inFlight = new Map<number, number>();
    let maxPerPartition = 0;
    let maxOverall = 0;
    let handled = 0;
    const h = await stream.consume({
      groupId: 'g',
      topics: [topic],
      onBatch: async (batch) => {
        inFlight.set(batch.partition, (inFlight.get(batch.partition) ?? 0) + 1);
        maxPerPartition = Math.max(maxPerPartition, inFlight.get(batch.partition)!);
        maxOverall = Math.max(
          maxOverall,
          [...inFlight.values()].reduce((a, b) => a + b, 0),
        );
        await sleep(5);
        inFlight.set(batch.partition, inFlight.get(batch.partition)! - 1);
        handled += batch.records.length;
      },
    });
    for (let i = 0; i < 10; i++) {
      await stream.produce(
        topic,
        Array.from({ length: 6 }, (_, j) => ({ key: `key-${j}`, value: `${i}` })),
      );
      await sleep(1);
    }
    await until(() => handled === 60);
    await h.stop();
    expect(maxPerPartition).toBe(1);
    expect(maxOverall).toBeGreaterThan(1);
  });

  it('given a batch in flight, when the consumer stops, then stop waits for it, keeps its commit, revokes the partitions and refuses later commits', async () => {
    const stream = await streamWith(2);
    await stream.produce(topic, [{ key: 'a', value: '1' }]);
    let release!: () => void;
    const events: string[] = [];
    const handle = await stream.consume({
      groupId: 'g',
      topics: [topic],
      onBatch: async (batch, consumer) => {
        events.push('batch');
        await new Promise<void>((r) => (release = r));
        await consumer.commit([{ topic, partition: batch.partition, offset: batch.records[0].offset + 1 }]);
        events.push('batch done');
      },
      onRevoked: async (partitions) => void events.push(`revoked ${partitions.map((p) => p.partition).join(',')}`),
    });
    await until(() => events.length === 1);
    const stopped = handle.stop().then(() => events.push('stopped'));
    await sleep(10);
    expect(events).toEqual(['batch']);
    release();
    await stopped;
    expect(events).toEqual(['batch', 'batch done', 'revoked 0,1', 'stopped']);
    await expect(handle.commit([{ topic, partition: 0, offset: 1 }])).rejects.toThrow(/stopped/);
    expect((await stream.committed('g', topic)).find((c) => c.partition === partitionForKey('a', 2))?.offset).toBe(1);
  });

  it('given a consumer waiting at the end of the log, when a record is appended, then it is delivered without polling', async () => {
    const stream = await streamWith(1);
    const c = collector();
    const h = await stream.consume({ groupId: 'g', topics: [topic], onBatch: c.onBatch });
    await sleep(5);
    await stream.produce(topic, [{ key: null, value: 'x' }]);
    // Woken by the append itself: a few turns of the event loop, no timer.
    for (let i = 0; i < 5 && c.seen.length === 0; i++) await new Promise((r) => setImmediate(r));
    expect(c.seen.map((r) => r.value)).toEqual(['x']);
    expect(await stream.drain(100)).toBe(true);
    await h.stop();
  });

  it('given a topic nobody created, then publishing, producing and consuming it throw and nothing is appended', async () => {
    const stream = await streamWith(1);
    await expect(
      stream.publish([
        { envelope: event('o-1', 0), routingKey: 'order.order-touched' },
        { envelope: createEnvelope({ type: 'PaymentTouched', key: 'o-1', source: 'payment', payload: {} }), routingKey: 'payment.payment-touched' },
      ]),
    ).rejects.toThrow(/unknown topic payment-events/);
    expect(await stream.watermarks(topic)).toEqual([{ partition: 0, low: 0, high: 0 }]);
    await expect(stream.produce('nope', [{ key: 'a', value: '1' }])).rejects.toThrow(/unknown topic nope/);
    await expect(stream.consume({ groupId: 'g', topics: ['nope'], onBatch: async () => undefined })).rejects.toThrow(/unknown topic nope/);
    await expect(stream.watermarks('nope')).rejects.toThrow(/unknown topic/);
  });

  it('given an existing topic, when ensured again with another partition count, then it is left as it is', async () => {
    const stream = await streamWith(3);
    await stream.ensureTopics([
      { topic, partitions: 6 },
      { topic: 'order-events.retry', partitions: 2 },
    ]);
    expect((await stream.watermarks(topic)).length).toBe(3);
    expect((await stream.watermarks('order-events.retry')).length).toBe(2);
  });
});
