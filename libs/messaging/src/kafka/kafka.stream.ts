import { Partitioners, type Admin, type Producer, type TopicMessages } from 'kafkajs';
import { backoffMs, sleep, type Logger } from '@app/platform';
import type { OutgoingMessage } from '../transport';
import {
  eventTopic,
  streamRecordOf,
  type ConsumeOptions,
  type EventStream,
  type PartitionWatermarks,
  type ProducedRecord,
  type StreamConsumerHandle,
} from '../stream/stream';
import { KafkaClient, RETRY, withDeadline } from './kafka.client';
import { KafkaGroupConsumer } from './kafka.consumer';

export interface KafkaEventStreamOptions {
  /** `host:port` of the bootstrap brokers; `127.0.0.1:9092` locally (the broker binds IPv4 only). */
  brokers: string[];
  clientId: string;
  logger: Logger;
  /**
   * Overrides the partition count `ensureTopics` is asked for (a laptop may want fewer).
   * Changing it for an existing topic changes nothing: topics are only ever created.
   */
  topicPartitions?: number;
  /** Replication factor of the topics this adapter creates: 1 on a single local broker. */
  replicationFactor?: number;
  /** How long `connect()` (and the first start of a consumer) keeps trying before failing. */
  connectTimeoutMs?: number;
  /** A consumer silent this long leaves its group; also how long a rejoin can wait for a dead member. */
  sessionTimeoutMs?: number;
  /** Records per onBatch at most; a fetched batch (up to 1 MB) is handed over in slices. */
  maxBatchRecords?: number;
  /** Partitions one consumer processes at once (each still strictly one batch at a time). */
  partitionsConsumedConcurrently?: number;
  /**
   * How long one awaited call (a send with kafkajs' own retries, an admin request, a commit) may
   * take before it is abandoned and its client discarded (see KafkaClient). Default 30 s.
   */
  callDeadlineMs?: number;
}

/** The readiness probe's own deadline: an answer takes milliseconds; a hung probe must not stick. */
const PROBE_DEADLINE_MS = 5000;
const PROBE_INTERVAL_MS = 5000;

/**
 * The event stream on Apache Kafka (kafkajs). Publishing goes through one idempotent producer
 * (acks from all in-sync replicas, one request in flight, Java's murmur2 partitioner) so a key's
 * records keep their order and kafkajs' own retries do not duplicate them; `publish` resolves only
 * once Kafka acknowledged every record, which is what lets the outbox mark rows sent, and it
 * always settles: a send that kafkajs leaves pending past the call deadline is abandoned with its
 * client (KafkaClient), so the outbox's stream channel can never wait on it forever.
 * Consumers commit nothing by themselves: the caller commits what it has durably handled.
 * The producer, the admin and each consumer have a client of their own, so discarding one never
 * cuts another's connections.
 */
export class KafkaEventStream implements EventStream {
  private readonly logger: Logger;
  private admin?: { client: KafkaClient; admin: Promise<Admin> };
  private producer?: { client: KafkaClient; producer: Promise<Producer> };
  private connected = false;
  private healthy = false;
  private closing = false;
  private probe?: NodeJS.Timeout;
  private probing?: Promise<void>;
  private readonly consumers = new Set<KafkaGroupConsumer>();

  constructor(private readonly options: KafkaEventStreamOptions) {
    this.logger = options.logger;
  }

  private get callDeadlineMs(): number {
    return this.options.callDeadlineMs ?? 30_000;
  }

  isReady(): boolean {
    return this.connected && this.healthy && !this.closing;
  }

  async connect(): Promise<void> {
    const deadline = Date.now() + (this.options.connectTimeoutMs ?? 30_000);
    for (let n = 0; ; n++) {
      try {
        await this.adminCall('connect', () => Promise.resolve());
        await this.producerNow();
        break;
      } catch (error) {
        if (Date.now() > deadline) throw new Error(`cannot connect to Kafka: ${String(error)}`, { cause: error });
        this.logger.warn('Kafka not reachable yet', { error: String(error) });
        await sleep(backoffMs(n, { baseMs: 100, maxMs: 2000 }));
      }
    }
    this.connected = true;
    this.healthy = true;
    // Readiness must notice a dead broker even when nothing is being published.
    this.probe = setInterval(() => void this.checkHealth(), PROBE_INTERVAL_MS);
    this.probe.unref();
    this.logger.info('connected to Kafka', { brokers: this.options.brokers });
  }

  /**
   * Makes sure the topics exist and every partition has a leader, trying again until
   * `connectTimeoutMs` has passed. A service calls this while it starts, often just after the
   * broker itself (re)started, when a single attempt can fail for reasons that pass in seconds: a
   * call abandoned at its deadline, the controller answering REQUEST_TIMED_OUT while it writes the
   * new topic (the topic then exists anyway), or partitions without leaders yet. kafkajs retries
   * only NOT_CONTROLLER and gives up on the rest, which ended the service's start.
   */
  async ensureTopics(topics: Array<{ topic: string; partitions: number }>): Promise<void> {
    const deadline = Date.now() + (this.options.connectTimeoutMs ?? 30_000);
    for (let n = 0; ; n++) {
      try {
        await this.createMissing(topics);
        // Bounded per attempt, so a topic that vanished meanwhile is created again by the next one.
        await this.awaitLeaders(
          topics.map((t) => t.topic),
          Math.max(1000, Math.min(10_000, deadline - Date.now())),
        );
        return;
      } catch (error) {
        if (Date.now() > deadline || this.closing) throw new Error(`cannot make sure the Kafka topics exist: ${String(error)}`, { cause: error });
        this.logger.warn('Kafka topics not ready yet; trying again', { error: String(error) });
        await sleep(backoffMs(n, { baseMs: 200, maxMs: 2000 }));
      }
    }
  }

  /** One attempt: lists the topics and creates the missing ones (partition counts are never changed). */
  private async createMissing(topics: Array<{ topic: string; partitions: number }>): Promise<void> {
    const existing = new Set(await this.adminCall('listTopics', (a) => a.listTopics()));
    const missing = topics.filter((t) => !existing.has(t.topic));
    if (missing.length === 0) return;
    // Another instance may create the same topics at the same time: kafkajs answers `false`
    // when every topic already exists, and throws only for real failures. The leaders are
    // awaited by awaitLeaders, under the caller's deadline, not by kafkajs' fixed 5 s.
    await this.adminCall('createTopics', (a) =>
      a.createTopics({
        waitForLeaders: false,
        topics: missing.map((t) => ({
          topic: t.topic,
          numPartitions: this.options.topicPartitions ?? t.partitions,
          replicationFactor: this.options.replicationFactor ?? 1,
        })),
      }),
    );
    this.logger.info('created Kafka topics', { topics: missing.map((t) => t.topic) });
  }

  /**
   * A topic another service has just created exists before its partitions have leaders; a
   * consumer or producer that starts then is told "this server does not host this
   * topic-partition". Wait until every partition has a leader.
   */
  private async awaitLeaders(topics: string[], timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const meta = await this.adminCall('fetchTopicMetadata', (a) => a.fetchTopicMetadata({ topics }));
        const leaderless = meta.topics.flatMap((t) =>
          t.partitions.filter((p) => p.leader < 0 || p.partitionErrorCode !== 0).map((p) => `${t.name}/${p.partitionId}`),
        );
        if (meta.topics.length === topics.length && leaderless.length === 0) return;
        if (Date.now() > deadline) throw new Error(`Kafka topics without leaders: ${leaderless.join(', ') || topics.join(', ')}`);
      } catch (error) {
        if (Date.now() > deadline) throw error;
      }
      await sleep(200);
    }
  }

  destinationOf(message: OutgoingMessage): { system: string; name: string } {
    return { system: 'kafka', name: eventTopic(message.envelope.source) };
  }

  async publish(messages: readonly OutgoingMessage[]): Promise<void> {
    const byTopic = new Map<string, TopicMessages>();
    for (const { envelope, body } of messages) {
      const { topic, record } = streamRecordOf(envelope, body);
      let entry = byTopic.get(topic);
      if (!entry) byTopic.set(topic, (entry = { topic, messages: [] }));
      entry.messages.push(record);
    }
    await this.send([...byTopic.values()]);
  }

  async produce(topic: string, records: ProducedRecord[]): Promise<void> {
    await this.send([{ topic, messages: records.map((r) => ({ key: r.key, value: r.value, headers: r.headers })) }]);
  }

  async consume(options: ConsumeOptions): Promise<StreamConsumerHandle> {
    if (this.closing) throw new Error('event stream is closed');
    const sessionTimeoutMs = this.options.sessionTimeoutMs ?? 10_000;
    const consumer = new KafkaGroupConsumer(options, this.logger.child({ groupId: options.groupId }), {
      client: { brokers: this.options.brokers, clientId: this.options.clientId },
      sessionTimeoutMs,
      maxBatchRecords: Math.max(1, this.options.maxBatchRecords ?? 200),
      partitionsConsumedConcurrently: Math.max(1, this.options.partitionsConsumedConcurrently ?? 4),
      callDeadlineMs: this.callDeadlineMs,
      // Well past anything kafkajs does on its own while healthy (a fetch every 200 ms, a
      // heartbeat every 3 s) and past its crash-and-restart cycle while the broker is down.
      stallMs: Math.max(60_000, 3 * sessionTimeoutMs),
      onStopped: () => this.consumers.delete(consumer),
    });
    this.consumers.add(consumer);
    try {
      await consumer.start(this.options.connectTimeoutMs ?? 30_000);
    } catch (error) {
      this.consumers.delete(consumer);
      throw error;
    }
    return consumer;
  }

  async committed(groupId: string, topic: string): Promise<Array<{ partition: number; offset: number }>> {
    const [result] = await this.adminCall('fetchOffsets', (a) => a.fetchOffsets({ groupId, topics: [topic] }));
    const partitions = result?.partitions ?? [];
    // -1: nothing committed; the group would start at the beginning, i.e. the low watermark.
    const low = partitions.some((p) => Number(p.offset) < 0)
      ? new Map((await this.watermarks(topic)).map((w) => [w.partition, w.low]))
      : new Map<number, number>();
    return partitions
      .map((p) => ({ partition: p.partition, offset: Number(p.offset) < 0 ? (low.get(p.partition) ?? 0) : Number(p.offset) }))
      .sort((a, b) => a.partition - b.partition);
  }

  async watermarks(topic: string): Promise<PartitionWatermarks[]> {
    const offsets = await this.adminCall('fetchTopicOffsets', (a) => a.fetchTopicOffsets(topic));
    return offsets.map((o) => ({ partition: o.partition, low: Number(o.low), high: Number(o.high) })).sort((a, b) => a.partition - b.partition);
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    clearInterval(this.probe);
    await Promise.all([...this.consumers].map((c) => c.stop()));
    const quit = async (side: { client: KafkaClient; admin?: Promise<Admin>; producer?: Promise<Producer> } | undefined) => {
      if (!side) return;
      const client = await (side.admin ?? side.producer)?.catch(() => undefined);
      await withDeadline(client?.disconnect() ?? Promise.resolve(), PROBE_DEADLINE_MS, 'Kafka disconnect', () => undefined).catch(() => undefined);
      side.client.discard('closed');
    };
    await Promise.all([quit(this.producer), quit(this.admin)]);
    this.producer = undefined;
    this.admin = undefined;
    this.connected = false;
  }

  /** Resolves once Kafka acknowledged every record (acks from all in-sync replicas); rejects within the call deadline otherwise. */
  private async send(topicMessages: TopicMessages[]): Promise<void> {
    if (topicMessages.every((t) => t.messages.length === 0)) return;
    if (!this.connected || this.closing) throw new Error(this.closing ? 'event stream is closed' : 'Kafka is not connected');
    const side = this.producer ?? this.openProducer();
    try {
      const producer = await withDeadline(side.producer, this.callDeadlineMs, 'Kafka producer connect', (e) => side.client.discard(e.message));
      await withDeadline(producer.sendBatch({ topicMessages, acks: -1 }), this.callDeadlineMs, 'Kafka send', (e) => side.client.discard(e.message));
      this.healthy = true;
    } catch (error) {
      // kafkajs gave up after its retries (and rolled back the partitions' sequence numbers), or
      // the send was abandoned. The next batch would reuse those sequence numbers with other
      // records, which the broker either drops as a duplicate or answers with
      // OUT_OF_ORDER_SEQUENCE_NUMBER forever. A new producer on a new client gets a new producer
      // id and starts clean; what the old one may have written is at worst sent again by the
      // caller (the outbox), and consumers' inboxes absorb that.
      if (this.producer === side) this.producer = undefined;
      void side.producer.then((p) => p.disconnect()).catch(() => undefined);
      side.client.discard(`send failed: ${String(error)}`);
      // Not every failure means Kafka is gone (an unknown topic is the caller's); ask the broker.
      void this.checkHealth();
      throw error;
    }
  }

  private producerNow(): Promise<Producer> {
    return (this.producer ?? this.openProducer()).producer;
  }

  private openProducer(): { client: KafkaClient; producer: Promise<Producer> } {
    const client = new KafkaClient({ brokers: this.options.brokers, clientId: this.options.clientId, logger: this.logger });
    const producer = client.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      // Java's murmur2 partitioner, named so kafkajs does not warn about its v2 default change.
      createPartitioner: Partitioners.DefaultPartitioner,
      allowAutoTopicCreation: false,
      // Bounded, so `publish` fails within seconds when Kafka is down instead of hanging the
      // outbox's stream channel (idempotent producers retry forever by default); see `send` for the reset.
      retry: RETRY,
    });
    const side = {
      client,
      producer: withDeadline(producer.connect(), this.callDeadlineMs, 'Kafka producer connect', (e) => client.discard(e.message)).then(
        () => producer,
        (error: unknown) => {
          if (this.producer === side) this.producer = undefined;
          client.discard(`connect failed: ${String(error)}`);
          throw error;
        },
      ),
    };
    // Nothing may be left unhandled while no send awaits it yet.
    side.producer.catch(() => undefined);
    this.producer = side;
    return side;
  }

  /**
   * One admin request, within a deadline (the probe's is shorter); an admin whose request did
   * not settle, or could not connect, is discarded and the next request opens a new one.
   */
  private async adminCall<T>(what: string, call: (admin: Admin) => Promise<T>, deadlineMs = this.callDeadlineMs): Promise<T> {
    if (this.closing) throw new Error('event stream is closed');
    const side = this.admin ?? this.openAdmin();
    const drop = (reason: string) => {
      if (this.admin === side) this.admin = undefined;
      side.client.discard(reason);
    };
    const admin = await withDeadline(side.admin, deadlineMs, 'Kafka admin connect', (e) => drop(e.message));
    return withDeadline(call(admin), deadlineMs, `Kafka ${what}`, (e) => drop(e.message));
  }

  private openAdmin(): { client: KafkaClient; admin: Promise<Admin> } {
    const client = new KafkaClient({ brokers: this.options.brokers, clientId: this.options.clientId, logger: this.logger });
    const admin = client.kafka.admin({ retry: RETRY });
    const side = {
      client,
      admin: admin.connect().then(
        () => admin,
        (error: unknown) => {
          if (this.admin === side) this.admin = undefined;
          client.discard(`connect failed: ${String(error)}`);
          throw error;
        },
      ),
    };
    side.admin.catch(() => undefined);
    this.admin = side;
    return side;
  }

  private checkHealth(): Promise<void> {
    // One probe at a time; it always settles within its deadline, so it cannot stick.
    this.probing ??= (async () => {
      if (this.closing || !this.connected) return;
      try {
        await this.adminCall('describeCluster', (a) => a.describeCluster(), PROBE_DEADLINE_MS);
        if (!this.healthy) this.logger.info('Kafka reachable again');
        this.healthy = true;
      } catch (error) {
        if (this.healthy) this.logger.warn('Kafka not reachable', { error: String(error) });
        this.healthy = false;
      }
    })().finally(() => {
      this.probing = undefined;
    });
    return this.probing;
  }
}
