import { backoffMs, type Logger } from '@app/platform';
import type { OutgoingMessage } from '../transport';
import {
  eventTopic,
  streamRecordOf,
  type ConsumeOptions,
  type EventStream,
  type PartitionWatermarks,
  type ProducedRecord,
  type StreamConsumerHandle,
  type StreamRecord,
  type TopicPartitionOffset,
} from './stream';
import { sleep } from '@app/platform';

export interface InMemoryEventStreamOptions {
  /** Records per onBatch at most; Kafka bounds a fetch by bytes, this keeps batches alike. */
  maxBatchRecords?: number;
  /** First wait before records whose onBatch threw are delivered again; doubles up to 2 s. */
  retryDelayMs?: number;
  logger?: Logger;
}

interface Partition {
  records: StreamRecord[];
  /** Consumers parked at the end of this partition; an append wakes them. */
  waiters: Set<() => void>;
}

interface Topic {
  partitions: Partition[];
  /** Round-robin counter for records without a key, like Kafka's partitioner. */
  next: number;
}

interface Group {
  committed: Map<string, number>;
  active?: GroupConsumer;
}

interface GroupConsumer {
  options: ConsumeOptions;
  stopping: boolean;
  /** Every batch in flight at stop has finished; from here on nothing may be committed. */
  stopped: boolean;
  /** Interrupts a retry backoff when the consumer stops. */
  wakeBackoff: Set<() => void>;
  loops: Promise<void>[];
  /** Partitions whose loop has an onBatch in flight or records left to read. */
  busy: Set<string>;
  stop(): Promise<void>;
}

function wake(p: Partition): void {
  const waiters = [...p.waiters];
  p.waiters.clear();
  waiters.forEach((w) => w());
}

const tp = (topic: string, partition: number) => `${topic}\u0000${partition}`;

/**
 * Kafka's semantics in one process, for the embedded mode and unit tests: topics of N
 * partitions, a key always in the same partition (Kafka's own murmur2 partitioner, so a key
 * lands where it would on the broker), offsets from 0, consumer groups with committed offsets.
 * A consumer reads each partition in offset order, one batch at a time, from the group's
 * committed offset; its position advances past each batch onBatch accepted, and only `commit`
 * makes it survive a restart (a new `consume` of the group). A batch whose onBatch threw is
 * delivered again after a backoff, as kafkajs re-fetches from the last resolved offset.
 * One consumer per group at a time: the embedded mode runs one instance of each service.
 * Nothing is durable: the log lives as long as the process.
 */
export class InMemoryEventStream implements EventStream {
  private readonly topics = new Map<string, Topic>();
  private readonly groups = new Map<string, Group>();
  private readonly maxBatch: number;
  private readonly retryDelayMs: number;
  private closed = false;

  constructor(private readonly options: InMemoryEventStreamOptions = {}) {
    this.maxBatch = Math.max(1, options.maxBatchRecords ?? 200);
    this.retryDelayMs = Math.max(1, options.retryDelayMs ?? 100);
  }

  isReady(): boolean {
    return !this.closed;
  }

  async ensureTopics(topics: Array<{ topic: string; partitions: number }>): Promise<void> {
    for (const { topic, partitions } of topics) {
      if (this.topics.has(topic)) continue;
      if (!Number.isInteger(partitions) || partitions < 1) throw new Error(`topic ${topic}: partitions must be a positive integer`);
      this.topics.set(topic, { next: 0, partitions: Array.from({ length: partitions }, () => ({ records: [], waiters: new Set() })) });
    }
  }

  destinationOf(message: OutgoingMessage): { system: string; name: string } {
    return { system: 'memory', name: eventTopic(message.envelope.source) };
  }

  async publish(messages: readonly OutgoingMessage[]): Promise<void> {
    // Check every topic first: a batch is appended entirely or not at all.
    const records = messages.map((m) => streamRecordOf(m.envelope, m.body));
    for (const r of records) this.requireTopic(r.topic);
    this.append(records.map(({ topic, record }) => ({ topic, ...record })));
  }

  async produce(topic: string, records: ProducedRecord[]): Promise<void> {
    this.requireTopic(topic);
    this.append(records.map((r) => ({ topic, key: r.key, value: r.value, headers: { ...(r.headers ?? {}) } })));
  }

  async consume(options: ConsumeOptions): Promise<StreamConsumerHandle> {
    this.requireOpen();
    const topics = options.topics.map((name) => ({ name, topic: this.requireTopic(name) }));
    const group = this.group(options.groupId);
    if (group.active) throw new Error(`consumer group ${options.groupId} already has an active consumer`);
    const assigned = topics.flatMap(({ name, topic }) => topic.partitions.map((_, partition) => ({ topic: name, partition })));
    let stopped: Promise<void> | undefined;
    const consumer: GroupConsumer = {
      options,
      stopping: false,
      stopped: false,
      wakeBackoff: new Set(),
      loops: [],
      busy: new Set(),
      stop: () =>
        (stopped ??= (async () => {
          consumer.stopping = true;
          for (const { topic, partition } of assigned) wake(this.topics.get(topic)!.partitions[partition]);
          consumer.wakeBackoff.forEach((w) => w());
          await Promise.all(consumer.loops);
          consumer.stopped = true;
          try {
            await options.onRevoked?.(assigned);
          } finally {
            if (group.active === consumer) group.active = undefined;
          }
        })()),
    };
    group.active = consumer;
    const handle: StreamConsumerHandle = {
      commit: async (offsets) => this.commit(group, consumer, offsets),
      stop: () => consumer.stop(),
    };
    consumer.loops = assigned.map(({ topic, partition }) => this.readPartition(group, consumer, handle, topic, partition));
    return handle;
  }

  async committed(groupId: string, topic: string): Promise<Array<{ partition: number; offset: number }>> {
    const t = this.requireTopic(topic);
    const committed = this.groups.get(groupId)?.committed;
    return t.partitions.map((_, partition) => ({ partition, offset: committed?.get(tp(topic, partition)) ?? 0 }));
  }

  async watermarks(topic: string): Promise<PartitionWatermarks[]> {
    return this.requireTopic(topic).partitions.map((p, partition) => ({ partition, low: 0, high: p.records.length }));
  }

  /**
   * Resolves true once every active consumer has read (and onBatch accepted) all there is to
   * read, or false after `timeoutMs`. A graceful stop of the embedded mode drains before it
   * closes services.
   */
  async drain(timeoutMs: number): Promise<boolean> {
    const end = Date.now() + timeoutMs;
    const busy = () => [...this.groups.values()].some((g) => g.active && !g.active.stopping && g.active.busy.size > 0);
    while (busy()) {
      if (Date.now() > end) return false;
      await sleep(10);
    }
    return true;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Consumers stop as on a client shutdown: in-flight batches finish, partitions are revoked.
    const active = [...this.groups.values()].map((g) => g.active).filter((c): c is GroupConsumer => !!c);
    await Promise.all(active.map((c) => c.stop()));
  }

  private append(records: Array<{ topic: string; key: string | null; value: string; headers: Record<string, string> }>): void {
    this.requireOpen();
    const touched = new Set<Partition>();
    const timestamp = Date.now();
    for (const r of records) {
      const topic = this.requireTopic(r.topic);
      const partition = r.key === null ? topic.next++ % topic.partitions.length : partitionForKey(r.key, topic.partitions.length);
      const p = topic.partitions[partition];
      p.records.push({ topic: r.topic, partition, offset: p.records.length, key: r.key, value: r.value, timestamp, headers: r.headers });
      touched.add(p);
    }
    for (const p of touched) wake(p);
  }

  private async readPartition(group: Group, consumer: GroupConsumer, handle: StreamConsumerHandle, topic: string, partition: number): Promise<void> {
    const p = this.topics.get(topic)!.partitions[partition];
    const key = tp(topic, partition);
    let position = group.committed.get(key) ?? 0;
    let failures = 0;
    // Let consume() return its handle before the first onBatch, as a broker client would.
    await Promise.resolve();
    while (!consumer.stopping) {
      if (position >= p.records.length) {
        consumer.busy.delete(key);
        await new Promise<void>((resolve) => p.waiters.add(resolve));
        continue;
      }
      consumer.busy.add(key);
      const records = p.records.slice(position, position + this.maxBatch);
      try {
        await consumer.options.onBatch({ topic, partition, records }, handle);
        position += records.length;
        failures = 0;
      } catch (error) {
        // The position stays: the same records come again, in order, after a backoff.
        const delay = backoffMs(failures++, { baseMs: this.retryDelayMs, maxMs: 2000 });
        this.options.logger?.warn('stream batch failed; it will be delivered again', {
          groupId: consumer.options.groupId,
          topic,
          partition,
          offset: records[0].offset,
          error: String(error),
          retryInMs: delay,
        });
        await new Promise<void>((resolve) => {
          const wake = () => {
            clearTimeout(timer);
            consumer.wakeBackoff.delete(wake);
            resolve();
          };
          const timer = setTimeout(wake, delay);
          consumer.wakeBackoff.add(wake);
        });
      }
    }
    consumer.busy.delete(key);
  }

  private async commit(group: Group, consumer: GroupConsumer, offsets: TopicPartitionOffset[]): Promise<void> {
    // Like a broker rejecting a commit from a member that left the group. A batch still in
    // flight while the consumer stops may commit, as it can on Kafka.
    if (consumer.stopped || group.active !== consumer) throw new Error(`consumer of group ${consumer.options.groupId} is stopped; offsets not committed`);
    for (const o of offsets) {
      if (!consumer.options.topics.includes(o.topic)) throw new Error(`topic ${o.topic} is not consumed by group ${consumer.options.groupId}`);
      const partitions = this.requireTopic(o.topic).partitions;
      if (!partitions[o.partition]) throw new Error(`topic ${o.topic} has no partition ${o.partition}`);
      if (!Number.isInteger(o.offset) || o.offset < 0) throw new Error(`invalid offset ${o.offset}`);
    }
    for (const o of offsets) group.committed.set(tp(o.topic, o.partition), o.offset);
  }

  private group(groupId: string): Group {
    let g = this.groups.get(groupId);
    if (!g) this.groups.set(groupId, (g = { committed: new Map() }));
    return g;
  }

  private requireTopic(name: string): Topic {
    const t = this.topics.get(name);
    // Kafka here runs without auto-create: a topic nobody created is an error, not a new topic.
    if (!t) throw new Error(`unknown topic ${name}`);
    return t;
  }

  private requireOpen(): void {
    if (this.closed) throw new Error('event stream is closed');
  }
}

/**
 * The partition Kafka's default partitioner (Java client and kafkajs' DefaultPartitioner) picks
 * for a key: murmur2 of its UTF-8 bytes, made positive, modulo the partition count.
 */
export function partitionForKey(key: string, partitions: number): number {
  return (murmur2(Buffer.from(key, 'utf8')) & 0x7fffffff) % partitions;
}

/** Kafka's murmur2 (org.apache.kafka.common.utils.Utils#murmur2), in 32-bit integer arithmetic. */
export function murmur2(data: Uint8Array): number {
  const m = 0x5bd1e995;
  const length = data.length;
  let h = 0x9747b28c ^ length;
  const whole = length & ~3;
  for (let i = 0; i < whole; i += 4) {
    let k = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24);
    k = Math.imul(k, m);
    k ^= k >>> 24;
    k = Math.imul(k, m);
    h = Math.imul(h, m) ^ k;
  }
  const rest = length & 3;
  if (rest === 3) h ^= data[whole + 2] << 16;
  if (rest >= 2) h ^= data[whole + 1] << 8;
  if (rest >= 1) h = Math.imul(h ^ data[whole], m);
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}
