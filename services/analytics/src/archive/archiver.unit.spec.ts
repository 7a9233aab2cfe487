import { gunzipSync } from 'node:zlib';
import { createEnvelope, type Envelope } from '@app/contracts';
import {
  InMemoryEventStream,
  type ConsumeOptions,
  type EventStream,
  type ProducedRecord,
  type StreamConsumerHandle,
  type StreamRecord,
  type TopicPartitionOffset,
} from '@app/messaging';
import { createLogger, sleep } from '@app/platform';
import { until } from '../../../../test/support/wait';
import { InMemoryArchiveManifest, type ArchiveManifest } from './archive-manifest';
import { InMemoryArchiveStore, type ArchiveStore } from './archive-store';
import { Archiver, type ArchiverOptions } from './archiver';
import { duplicateMessages, rangeFromBlob, verifyPartition } from './archive-verify';
import { parseBlobName } from './blob-name';

const topic = 'order-events';
const logger = createLogger({ service: 'archiver-test' });

function event(seq: number): Envelope<{ orderId: string; seq: number }> {
  return createEnvelope({ type: 'OrderTouched', key: 'order-1', source: 'order', payload: { orderId: 'order-1', seq } });
}

/** What every "process" of a test shares: the log, the blob store, the database's manifest. */
interface World {
  stream: InMemoryEventStream;
  store: InMemoryArchiveStore;
  manifest: InMemoryArchiveManifest;
  projected: string[];
}

async function world(sliceRecords = 200): Promise<World> {
  const stream = new InMemoryEventStream({ maxBatchRecords: sliceRecords, retryDelayMs: 5 });
  await stream.ensureTopics([
    { topic, partitions: 1 },
    { topic: 'analytics.retry', partitions: 1 },
    { topic: 'analytics.dlt', partitions: 1 },
  ]);
  return { stream, store: new InMemoryArchiveStore(), manifest: new InMemoryArchiveManifest(), projected: [] };
}

const publish = (w: World, events: Envelope[]) => w.stream.publish(events.map((envelope) => ({ envelope, routingKey: 'order.touched' })));

const options = (o: Partial<ArchiverOptions> = {}): ArchiverOptions => ({
  groupId: 'analytics',
  eventTopics: [topic],
  retryTopic: 'analytics.retry',
  deadLetterTopic: 'analytics.dlt',
  batchMaxEvents: 5,
  batchMaxMs: 60_000,
  retryDelayMs: 0,
  ...o,
});

/** Where a process dies, at its first blob: each step between reading and committing. */
const faultPoints = ['after-claim', 'after-upload', 'after-stored', 'after-commit'] as const;
type FaultPoint = (typeof faultPoints)[number];

/**
 * One Analytics process. A fault kills it at a point of its first blob (as SIGKILL would):
 * from there on every call it makes fails, its consumer leaves the group and its partitions
 * are not revoked (a killed process runs no handler).
 */
interface Proc {
  archiver: Archiver;
  /** Resolves once it is dead and its consumer has left the group. */
  gone: Promise<void>;
}

class Dead extends Error {}

async function boot(w: World, o: { fault?: FaultPoint; options?: Partial<ArchiverOptions> } = {}): Promise<Proc> {
  let dead = false;
  let handle: StreamConsumerHandle | undefined;
  let died!: () => void;
  const diedAt = new Promise<void>((r) => (died = r));
  const alive = () => {
    if (dead) throw new Dead('this process is dead');
  };
  const die = () => {
    dead = true;
    died();
  };
  const store: ArchiveStore = {
    put: async (name, body, metadata) => {
      alive();
      await w.store.put(name, body, metadata);
      if (o.fault === 'after-upload') die();
    },
    list: async (prefix) => (alive(), w.store.list(prefix)),
    listPage: async (prefix, limit, token) => (alive(), w.store.listPage(prefix, limit, token)),
    read: async (name) => (alive(), w.store.read(name)),
  };
  const manifest: ArchiveManifest = {
    blobsFrom: async (t, p, from) => (alive(), w.manifest.blobsFrom(t, p, from)),
    claim: async (t, p, records) => {
      alive();
      const claim = await w.manifest.claim(t, p, records);
      if (o.fault === 'after-claim') die();
      return claim;
    },
    markStored: async (name, t, p) => {
      alive();
      const pending = await w.manifest.markStored(name, t, p);
      if (o.fault === 'after-stored') die();
      return pending;
    },
    contents: async (name, events) => (alive(), w.manifest.contents(name, events)),
  };
  const stream: EventStream = {
    ensureTopics: (t) => w.stream.ensureTopics(t),
    publish: (m) => w.stream.publish(m),
    produce: async (t: string, records: ProducedRecord[]) => (alive(), w.stream.produce(t, records)),
    committed: (g, t) => w.stream.committed(g, t),
    watermarks: (t) => w.stream.watermarks(t),
    isReady: () => !dead,
    close: async () => undefined,
    consume: async (co: ConsumeOptions) => {
      const mine: StreamConsumerHandle = {
        commit: async (offsets: TopicPartitionOffset[]) => {
          alive();
          await handle!.commit(offsets);
          if (o.fault === 'after-commit') die();
        },
        stop: () => handle!.stop(),
      };
      handle = await w.stream.consume({
        ...co,
        onBatch: async (batch) => (alive(), co.onBatch(batch, mine)),
        onRevoked: async (p) => (dead ? undefined : co.onRevoked?.(p)),
      });
      return mine;
    },
  };
  const project = async (events: Envelope[]) => {
    alive();
    w.projected.push(...events.map((e) => e.messageId));
  };
  const archiver = new Archiver(stream, { store, manifest }, project, logger, options(o.options));
  await archiver.start();
  const gone = diedAt.then(() => handle!.stop());
  return { archiver, gone };
}

/** Runs a healthy process until it has read everything, then stops it gracefully. */
async function runToEnd(w: World, o: Parameters<typeof boot>[1] = {}): Promise<void> {
  const p = await boot(w, o);
  expect(await w.stream.drain(5000)).toBe(true);
  await p.archiver.stop();
}

interface Archived {
  ranges: Array<{ name: string; topic: string; first: number; last: number }>;
  byMessage: Map<string, number>;
}

function archived(store: InMemoryArchiveStore): Archived {
  const out: Archived = { ranges: [], byMessage: new Map() };
  for (const [name, blob] of store.blobs) {
    const parsed = parseBlobName(name)!;
    out.ranges.push({ name, topic: parsed.topic, first: parsed.firstOffset, last: parsed.lastOffset });
    for (const line of gunzipSync(blob.body).toString('utf8').split('\n').filter(Boolean)) {
      const id = (JSON.parse(line) as { event: Envelope }).event.messageId;
      out.byMessage.set(id, (out.byMessage.get(id) ?? 0) + 1);
    }
  }
  out.ranges.sort((a, b) => a.topic.localeCompare(b.topic) || a.first - b.first);
  return out;
}

/** What verify would say of the order-events partition: every offset up to `committed` accounted for once. */
async function verified(w: World, committed: number) {
  const ranges = [...w.store.blobs.entries()]
    .map(([name, blob]) => ({ range: rangeFromBlob(name, blob.metadata)!, body: blob.body }))
    .filter(({ range }) => range.topic === topic)
    .map(({ range, body }) => ({
      ...range,
      lines: gunzipSync(body)
        .toString('utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { offset: number; event: Envelope })
        .map((l) => ({ offset: l.offset, messageId: l.event.messageId })),
    }));
  const report = verifyPartition(topic, 0, committed, 0, ranges);
  return { gaps: report.gaps, duplicates: report.duplicates, duplicateMessages: duplicateMessages(ranges) };
}

/** No two blobs share an offset, and every event is in the archive exactly once. */
function expectExactlyOnce(store: InMemoryArchiveStore, events: Envelope[]): void {
  const a = archived(store);
  const overlaps = a.ranges.filter((r, i) => i > 0 && r.topic === a.ranges[i - 1].topic && r.first <= a.ranges[i - 1].last).map((r) => r.name);
  expect({ overlaps }).toEqual({ overlaps: [] });
  const ids = [...new Set(events.map((e) => e.messageId))];
  expect(Object.fromEntries(ids.map((id) => [id, a.byMessage.get(id) ?? 0]))).toEqual(Object.fromEntries(ids.map((id) => [id, 1])));
  expect([...a.byMessage.keys()].sort()).toEqual([...ids].sort());
}

describe('archiver', () => {
  describe('restarts part-way through a blob an earlier run stored (slices of 2 records, blobs of 5)', () => {
    it('given a blob uploaded but not committed, when the next run commits part-way through it and dies, then the third run writes no overlapping blob', async () => {
      const w = await world(2);
      const events = Array.from({ length: 5 }, (_, i) => event(i));
      await publish(w, events);
      await (
        await boot(w, { fault: 'after-upload' })
      ).gone;
      await (
        await boot(w, { fault: 'after-commit' })
      ).gone;
      await runToEnd(w);
      expectExactlyOnce(w.store, events);
      await w.stream.close();
    });
  });

  describe('dies twice, at every pair of points of a blob (slices of 2 records, blobs of 5, a poison record and a duplicate)', () => {
    const pairs = faultPoints.flatMap((first) => faultPoints.map((second) => [first, second] as const));
    it.each(pairs)('dies %s, then %s, then a healthy run: every offset and every event archived once', async (first, second) => {
      const w = await world(2);
      const events = Array.from({ length: 10 }, (_, i) => event(i));
      await publish(w, events.slice(0, 5));
      await w.stream.produce(topic, [{ key: 'order-1', value: 'not json' }]);
      await publish(w, [events[5], events[6], events[2], ...events.slice(7)]);
      await (
        await boot(w, { fault: first })
      ).gone;
      await (
        await boot(w, { fault: second })
      ).gone;
      await runToEnd(w);
      expectExactlyOnce(w.store, events);
      const [{ offset: committed }] = await w.stream.committed('analytics', topic);
      expect(committed).toBe(12);
      expect(await verified(w, committed)).toEqual({ gaps: [], duplicates: [], duplicateMessages: [] });
      expect(new Set(w.projected)).toEqual(new Set(events.map((e) => e.messageId)));
      await w.stream.close();
    });
  });

  describe('a step that fails once and then works (the store or the database briefly away)', () => {
    const steps = ['put', 'claim', 'markStored', 'contents'] as const;
    it.each(steps)('given %s failing once, then everything is archived once and committed', async (step) => {
      const w = await world(2);
      const events = Array.from({ length: 12 }, (_, i) => event(i));
      await publish(w, events.slice(0, 5));
      // A first run that dies after its upload leaves a pending blob, so `contents` is on the path.
      await (
        await boot(w, { fault: 'after-upload' })
      ).gone;
      await publish(w, events.slice(5));
      let failed = false;
      const once = <T>(name: (typeof steps)[number], fn: () => Promise<T>): Promise<T> => {
        if (name === step && !failed) {
          failed = true;
          return Promise.reject(new Error(`${name} failed`));
        }
        return fn();
      };
      const store: ArchiveStore = {
        put: (n, b, m) => once('put', () => w.store.put(n, b, m)),
        list: (p) => w.store.list(p),
        listPage: (p, l, t) => w.store.listPage(p, l, t),
        read: (n) => w.store.read(n),
      };
      const manifest: ArchiveManifest = {
        blobsFrom: (t, p, f) => w.manifest.blobsFrom(t, p, f),
        claim: (t, p, r) => once('claim', () => w.manifest.claim(t, p, r)),
        markStored: (n, t, p) => once('markStored', () => w.manifest.markStored(n, t, p)),
        contents: (n, e) => once('contents', () => w.manifest.contents(n, e)),
      };
      const archiver = new Archiver(w.stream, { store, manifest }, async () => undefined, logger, options({ batchMaxMs: 20 }));
      await archiver.start();
      await until(
        async () => (await w.stream.committed('analytics', topic))[0].offset,
        (o) => o === 12,
        5000,
        'everything committed',
      );
      await archiver.stop();
      expect(failed).toBe(true);
      expectExactlyOnce(w.store, events);
      expect(await verified(w, 12)).toEqual({ gaps: [], duplicates: [], duplicateMessages: [] });
      await w.stream.close();
    });
  });

  describe('the same event at two offsets (the outbox streamed it twice)', () => {
    it('given a message sent twice in one batch, then the archive holds it once', async () => {
      const w = await world();
      const [a, b, c] = [event(1), event(2), event(3)];
      await publish(w, [a, b, a, c]);
      await runToEnd(w);
      expectExactlyOnce(w.store, [a, b, c]);
      await w.stream.close();
    });

    it('given a message sent again after its first blob was stored, then the archive holds it once', async () => {
      const w = await world();
      const [a, b, c] = [event(1), event(2), event(3)];
      await publish(w, [a, b]);
      await runToEnd(w, { options: { batchMaxEvents: 2 } });
      await publish(w, [a, c]);
      await runToEnd(w, { options: { batchMaxEvents: 2 } });
      expectExactlyOnce(w.store, [a, b, c]);
      await w.stream.close();
    });
  });

  describe('what it reports to the metrics', () => {
    it('given a log with a repeated event, then each stored blob is reported once with its lines, each committed partition with its commit time, and a restart reports nothing again', async () => {
      const w = await world(2);
      const events = Array.from({ length: 7 }, (_, i) => event(i));
      await publish(w, [...events.slice(0, 3), events[0], ...events.slice(3)]);
      const stored: number[] = [];
      const first = await boot(w, { options: { batchMaxEvents: 4, batchMaxMs: 20, onStored: (n) => stored.push(n) } });
      const before = Date.now();
      await until(
        () => first.archiver.commits(),
        (c) => c.length === 1 && c[0].committedAtMs >= before,
        5000,
        'a commit',
      );
      expect(first.archiver.commits()).toEqual([{ topic, partition: 0, committedAtMs: expect.any(Number) }]);
      expect(await w.stream.drain(5000)).toBe(true);
      await first.archiver.stop();
      // 8 records, 7 distinct events: lines are events, the repeat is no line.
      expect(stored.reduce((a, b) => a + b, 0)).toBe(7);
      expect(stored.length).toBe(w.store.blobs.size);

      // A second run starts from the committed offset: it reads nothing again and reports nothing.
      const again: number[] = [];
      const second = await boot(w, { options: { batchMaxEvents: 4, batchMaxMs: 20, onStored: (n) => again.push(n) } });
      expect(await w.stream.drain(5000)).toBe(true);
      await second.archiver.stop();
      expect(again).toEqual([]);
      expect(second.archiver.commits()).toEqual([]);
      await w.stream.close();
    });
  });
});

/**
 * A consumer group of two members, driven by the test: which member gets which records, and
 * when a member loses a partition. Kafka's assignment moves on while the old member may still
 * be working (a member kicked out after its session timed out does not know it yet), and its
 * late commit is accepted if it comes before the group's next generation; this accepts them all.
 */
class GroupStream implements EventStream {
  readonly log: StreamRecord[] = [];
  readonly commits: Array<{ member: number; offset: number }> = [];
  private readonly members: Array<{ options: ConsumeOptions; handle: StreamConsumerHandle }> = [];

  async ensureTopics(): Promise<void> {}
  async publish(): Promise<void> {
    throw new Error('not used');
  }
  async produce(): Promise<void> {}
  async committed(): Promise<Array<{ partition: number; offset: number }>> {
    return [{ partition: 0, offset: this.commits.at(-1)?.offset ?? 0 }];
  }
  async watermarks() {
    return [{ partition: 0, low: 0, high: this.log.length }];
  }
  isReady(): boolean {
    return true;
  }
  async close(): Promise<void> {}

  async consume(options: ConsumeOptions): Promise<StreamConsumerHandle> {
    const member = this.members.length;
    const handle: StreamConsumerHandle = {
      commit: async (offsets) => void this.commits.push(...offsets.map((o) => ({ member, offset: o.offset }))),
      stop: async () => undefined,
    };
    this.members.push({ options, handle });
    return handle;
  }

  append(events: Envelope[]): void {
    for (const e of events)
      this.log.push({ topic, partition: 0, offset: this.log.length, key: e.key, value: JSON.stringify(e), timestamp: Date.now(), headers: {} });
  }

  /** Hands a member the records from `from` through `to`. */
  deliver(member: number, from: number, to: number): Promise<void> {
    const m = this.members[member];
    return m.options.onBatch({ topic, partition: 0, records: this.log.slice(from, to + 1) }, m.handle);
  }

  revoke(member: number): Promise<void> {
    return this.members[member].options.onRevoked?.([{ topic, partition: 0 }]) ?? Promise.resolve();
  }
}

/** A store whose first put waits until the test opens the gate. */
function gatedStore(store: InMemoryArchiveStore) {
  let entered!: () => void;
  let open!: () => void;
  const reached = new Promise<void>((r) => (entered = r));
  const gate = new Promise<void>((r) => (open = r));
  let first = true;
  const gated: ArchiveStore = {
    put: async (name, body, metadata) => {
      if (first) {
        first = false;
        entered();
        await gate;
      }
      await store.put(name, body, metadata);
    },
    list: (p) => store.list(p),
    listPage: (p, l, t) => store.listPage(p, l, t),
    read: (n) => store.read(n),
  };
  return { store: gated, reached, open };
}

describe('archiver, when a partition moves to another member', () => {
  it('given the old member uploading when the new one reads, then no blob overlaps and the old member commits nothing below the new one', async () => {
    const stream = new GroupStream();
    const shared = new InMemoryArchiveStore();
    const manifest = new InMemoryArchiveManifest();
    const events = Array.from({ length: 5 }, (_, i) => event(i));
    stream.append(events);
    const gate = gatedStore(shared);
    const project = async () => undefined;
    const old = new Archiver(stream, { store: gate.store, manifest }, project, logger, options({ batchMaxEvents: 3, batchMaxMs: 10 }));
    const next = new Archiver(stream, { store: shared, manifest }, project, logger, options({ batchMaxEvents: 3, batchMaxMs: 10 }));
    await old.start();
    await next.start();

    // The old member's first blob (offsets 0-2) is on its way when the partition moves.
    const oldBatch = stream.deliver(0, 0, 2).catch(() => undefined);
    await gate.reached;
    const revoked = stream.revoke(0);
    await stream.deliver(1, 0, 1);
    await sleep(150);
    await stream.deliver(1, 2, 4);
    await until(
      () => stream.commits.filter((c) => c.member === 1).at(-1)?.offset,
      (o) => o === 5,
      5000,
      'the new member to commit everything',
    );
    gate.open();
    await oldBatch;
    await revoked;
    await old.stop();
    await next.stop();

    expectExactlyOnce(shared, events);
    expect(stream.commits.at(-1)).toEqual({ member: 1, offset: 5 });
  });
  it('given both members buffering the same records, when the old one claims them first, then the new one claims only the rest', async () => {
    const stream = new GroupStream();
    const shared = new InMemoryArchiveStore();
    const manifest = new InMemoryArchiveManifest();
    const events = Array.from({ length: 5 }, (_, i) => event(i));
    stream.append(events);
    const project = async () => undefined;
    // Neither flushes until it stops: the old member (kicked out, unaware) holds 0-2, the new one 0-4.
    const old = new Archiver(stream, { store: shared, manifest }, project, logger, options({ batchMaxEvents: 10 }));
    const next = new Archiver(stream, { store: shared, manifest }, project, logger, options({ batchMaxEvents: 10 }));
    await old.start();
    await next.start();
    await stream.deliver(0, 0, 2);
    await stream.deliver(1, 0, 4);
    await old.stop();
    await next.stop();

    expectExactlyOnce(shared, events);
    expect(archived(shared).ranges.map((r) => [r.first, r.last])).toEqual([
      [0, 2],
      [3, 4],
    ]);
    expect(stream.commits.at(-1)).toEqual({ member: 1, offset: 5 });
  });

  it('given the old member claimed and is still uploading, then the new one uploads the same bytes and moves on', async () => {
    const stream = new GroupStream();
    const shared = new InMemoryArchiveStore();
    const manifest = new InMemoryArchiveManifest();
    const events = Array.from({ length: 5 }, (_, i) => event(i));
    stream.append([events[0], events[1], events[0], ...events.slice(2)]);
    const puts: Array<{ name: string; body: Buffer }> = [];
    const recording: ArchiveStore = {
      ...shared,
      put: async (name, body, metadata) => {
        puts.push({ name, body });
        await shared.put(name, body, metadata);
      },
      list: (p) => shared.list(p),
      listPage: (p, l, t) => shared.listPage(p, l, t),
      read: (n) => shared.read(n),
    };
    const gate = gatedStore(shared);
    const gatedRecording: ArchiveStore = { ...gate.store, put: async (n, b, m) => (puts.push({ name: n, body: b }), gate.store.put(n, b, m)) };
    const project = async () => undefined;
    const old = new Archiver(stream, { store: gatedRecording, manifest }, project, logger, options({ batchMaxEvents: 3 }));
    const next = new Archiver(stream, { store: recording, manifest }, project, logger, options({ batchMaxEvents: 3 }));
    await old.start();
    await next.start();

    const oldBatch = stream.deliver(0, 0, 2);
    await gate.reached;
    const revoked = stream.revoke(0);
    // The new member reads the claimed range and the rest while the old upload hangs.
    await stream.deliver(1, 0, 5);
    await next.stop();
    gate.open();
    await oldBatch;
    await revoked;
    await old.stop();

    expectExactlyOnce(shared, events);
    const first = puts.filter((p) => p.name === puts[0].name);
    expect(first).toHaveLength(2);
    expect(first[1].body.equals(first[0].body)).toBe(true);
    expect(shared.blobs.get(puts[0].name)!.metadata.duplicateoffsets).toBe('2');
    expect(stream.commits.at(-1)).toEqual({ member: 1, offset: 6 });
  });

  it('given an upload in flight, when the partition is revoked, then the revocation waits for it and nothing is committed after', async () => {
    const stream = new GroupStream();
    const shared = new InMemoryArchiveStore();
    const events = Array.from({ length: 3 }, (_, i) => event(i));
    stream.append(events);
    const gate = gatedStore(shared);
    const old = new Archiver(
      stream,
      { store: gate.store, manifest: new InMemoryArchiveManifest() },
      async () => undefined,
      logger,
      options({ batchMaxEvents: 3 }),
    );
    await old.start();
    const batch = stream.deliver(0, 0, 2);
    await gate.reached;
    let revokedDone = false;
    const revoked = stream.revoke(0).then(() => (revokedDone = true));
    await sleep(50);
    expect(revokedDone).toBe(false);
    gate.open();
    await revoked;
    await batch;
    await old.stop();
    expect([...shared.blobs.keys()]).toHaveLength(1);
    expect(stream.commits).toEqual([]);
  });
});
