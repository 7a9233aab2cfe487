import {
  Kafka,
  logLevel,
  Partitioners,
  type Admin,
  type Consumer,
  type EachBatchPayload,
  type IHeaders,
  type KafkaMessage,
  type logCreator,
  type Producer,
  type RetryOptions,
  type TopicMessages,
} from 'kafkajs';
import type { Logger } from '@app/platform';
import type { OutgoingMessage } from '../transport';
import {
  streamRecordOf,
  type ConsumeOptions,
  type EventStream,
  type PartitionWatermarks,
  type ProducedRecord,
  type StreamConsumerHandle,
  type StreamRecord,
  type TopicPartitionOffset,
} from '../stream/stream';
import { sleep } from '@app/platform';

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
}

/**
 * kafkajs' own production defaults, spelled out: kafkajs switches to much shorter ones when
 * NODE_ENV=test, and tests should see what production sees.
 */
const RETRY: RetryOptions = { initialRetryTime: 300, maxRetryTime: 30_000, factor: 0.2, multiplier: 2, retries: 5 };
/**
 * Fetch long-poll: the broker answers once it has FETCH_MIN_BYTES for the consumer, or after
 * FETCH_MAX_WAIT_MS with what it has. Under load a fetch brings many records (one batch, one
 * projection transaction, instead of a record or two per fetch); at a trickle a record waits at
 * most FETCH_MAX_WAIT_MS. The stream is off the saga's path, so its latency can pay for that.
 */
const FETCH_MAX_WAIT_MS = 200;
const FETCH_MIN_BYTES = 64 * 1024;

/**
 * The event stream on Apache Kafka (kafkajs). Publishing goes through one idempotent producer
 * (acks from all in-sync replicas, one request in flight, Java's murmur2 partitioner) so a key's
 * records keep their order and kafkajs' own retries do not duplicate them; `publish` resolves only
 * once Kafka acknowledged every record, which is what lets the outbox relay mark rows sent.
 * Consumers commit nothing by themselves: the caller commits what it has durably handled.
 * kafkajs reconnects producers and admin on the next request; consumers it gives up on are
 * restarted here, forever, with backoff.
 */
export class KafkaEventStream implements EventStream {
  private readonly kafka: Kafka;
  private readonly logger: Logger;
  private admin?: Admin;
  private producer?: Promise<Producer>;
  private connected = false;
  private healthy = false;
  private closing = false;
  private probe?: NodeJS.Timeout;
  private probing = false;
  private readonly consumers = new Set<KafkaGroupConsumer>();

  constructor(private readonly options: KafkaEventStreamOptions) {
    this.logger = options.logger;
    this.kafka = new Kafka({
      clientId: options.clientId,
      brokers: options.brokers,
      connectionTimeout: 3000,
      retry: RETRY,
      // kafkajs' debug lines (every request) only when ours are wanted too: they are many.
      logLevel: process.env.LOG_LEVEL === 'debug' ? logLevel.DEBUG : logLevel.INFO,
      logCreator: kafkaLogCreator(options.logger.child({ component: 'kafkajs' })),
    });
  }

  isReady(): boolean {
    return this.connected && this.healthy && !this.closing;
  }

  async connect(): Promise<void> {
    await retryUntil(this.options.connectTimeoutMs ?? 30_000, this.logger, 'Kafka', async () => {
      const admin = this.kafka.admin({ retry: RETRY });
      try {
        await admin.connect();
        await this.getProducer();
      } catch (error) {
        await admin.disconnect().catch(() => undefined);
        throw error;
      }
      this.admin = admin;
    });
    this.connected = true;
    this.healthy = true;
    // Readiness must notice a dead broker even when nothing is being published.
    this.probe = setInterval(() => void this.checkHealth(), 5000);
    this.probe.unref();
    this.logger.info('connected to Kafka', { brokers: this.options.brokers });
  }

  async ensureTopics(topics: Array<{ topic: string; partitions: number }>): Promise<void> {
    const admin = this.requireAdmin();
    const existing = new Set(await admin.listTopics());
    const missing = topics.filter((t) => !existing.has(t.topic));
    if (missing.length > 0) {
      // Another instance may create the same topics at the same time: kafkajs answers `false`
      // when every topic already exists, and throws only for real failures.
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((t) => ({
          topic: t.topic,
          numPartitions: this.options.topicPartitions ?? t.partitions,
          replicationFactor: this.options.replicationFactor ?? 1,
        })),
      });
      this.logger.info('created Kafka topics', { topics: missing.map((t) => t.topic) });
    }
    await this.awaitLeaders(topics.map((t) => t.topic));
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
        const meta = await this.requireAdmin().fetchTopicMetadata({ topics });
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
    const consumer = new KafkaGroupConsumer(this.kafka, options, this.logger.child({ groupId: options.groupId }), {
      sessionTimeoutMs: this.options.sessionTimeoutMs ?? 10_000,
      maxBatchRecords: Math.max(1, this.options.maxBatchRecords ?? 200),
      partitionsConsumedConcurrently: Math.max(1, this.options.partitionsConsumedConcurrently ?? 4),
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
    const [result] = await this.requireAdmin().fetchOffsets({ groupId, topics: [topic] });
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
    const offsets = await this.requireAdmin().fetchTopicOffsets(topic);
    return offsets.map((o) => ({ partition: o.partition, low: Number(o.low), high: Number(o.high) })).sort((a, b) => a.partition - b.partition);
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    clearInterval(this.probe);
    await Promise.all([...this.consumers].map((c) => c.stop()));
    const producer = await this.producer?.catch(() => undefined);
    await producer?.disconnect().catch(() => undefined);
    await this.admin?.disconnect().catch(() => undefined);
    this.connected = false;
  }

  /** Resolves once Kafka acknowledged every record (acks from all in-sync replicas). */
  private async send(topicMessages: TopicMessages[]): Promise<void> {
    if (topicMessages.every((t) => t.messages.length === 0)) return;
    if (!this.connected || this.closing) throw new Error(this.closing ? 'event stream is closed' : 'Kafka is not connected');
    const ready = this.getProducer();
    const producer = await ready;
    try {
      await producer.sendBatch({ topicMessages, acks: -1 });
      this.healthy = true;
    } catch (error) {
      // kafkajs gave up after its retries and rolled back the partitions' sequence numbers. The
      // next batch would reuse them with other records, which the broker either drops as a
      // duplicate or answers with OUT_OF_ORDER_SEQUENCE_NUMBER forever. A new producer gets a
      // new producer id and starts clean; what the old one may have written is at worst sent
      // again by the caller (the outbox), and consumers' inboxes absorb that.
      if (this.producer === ready) {
        this.producer = undefined;
        void producer.disconnect().catch(() => undefined);
      }
      // Not every failure means Kafka is gone (an unknown topic is the caller's); ask the broker.
      void this.checkHealth();
      throw error;
    }
  }

  private getProducer(): Promise<Producer> {
    if (!this.producer) {
      const producer = this.kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        // Java's murmur2 partitioner, named so kafkajs does not warn about its v2 default change.
        createPartitioner: Partitioners.DefaultPartitioner,
        allowAutoTopicCreation: false,
        // Bounded, so `publish` fails within seconds when Kafka is down instead of hanging the
        // outbox's stream channel (idempotent producers retry forever by default); see `send` for the reset.
        retry: RETRY,
      });
      const ready = producer.connect().then(
        () => producer,
        async (error) => {
          if (this.producer === ready) this.producer = undefined;
          await producer.disconnect().catch(() => undefined);
          throw error;
        },
      );
      this.producer = ready;
    }
    return this.producer;
  }

  private async checkHealth(): Promise<void> {
    if (this.probing || this.closing || !this.admin) return;
    this.probing = true;
    try {
      await this.admin.describeCluster();
      if (!this.healthy) this.logger.info('Kafka reachable again');
      this.healthy = true;
    } catch (error) {
      if (this.healthy) this.logger.warn('Kafka not reachable', { error: String(error) });
      this.healthy = false;
    } finally {
      this.probing = false;
    }
  }

  private requireAdmin(): Admin {
    if (!this.admin || this.closing) throw new Error(this.closing ? 'event stream is closed' : 'Kafka is not connected');
    return this.admin;
  }
}

interface GroupConsumerSettings {
  sessionTimeoutMs: number;
  maxBatchRecords: number;
  partitionsConsumedConcurrently: number;
  onStopped(): void;
}

type TopicPartition = { topic: string; partition: number };

/**
 * One consumer group member, kept alive across kafkajs consumers. kafkajs restarts a consumer
 * itself after failures it deems retriable (a broker down for minutes is one: it crashes and
 * restarts every ~10-30 s until the broker is back), but gives up (CRASH with `restart: false`)
 * on the others, e.g. a TypeError from a handler; then a new consumer is started here, with
 * backoff, for as long as this member is not stopped. Every (re)join resets the positions to
 * the committed offsets, so the caller is told its partitions were revoked before records are
 * delivered again.
 */
class KafkaGroupConsumer implements StreamConsumerHandle {
  private consumer?: Consumer;
  private opening?: Promise<void>;
  private assigned: TopicPartition[] = [];
  private joined = false;
  private revoking: Promise<void> = Promise.resolve();
  private readonly inFlight = new Set<EachBatchPayload>();
  private stopping = false;
  private stopped?: Promise<void>;
  private restartTimer?: NodeJS.Timeout;
  private restarts = 0;

  constructor(
    private readonly kafka: Kafka,
    private readonly options: ConsumeOptions,
    private readonly logger: Logger,
    private readonly settings: GroupConsumerSettings,
  ) {}

  async start(timeoutMs: number): Promise<void> {
    await retryUntil(timeoutMs, this.logger, `Kafka (consumer group ${this.options.groupId})`, () => this.open());
  }

  async commit(offsets: TopicPartitionOffset[]): Promise<void> {
    const consumer = this.consumer;
    // kafkajs silently skips a commit while its consumer is not running; say so instead.
    if (this.stopped && !this.stopping) throw new Error(`consumer of group ${this.options.groupId} is stopped; offsets not committed`);
    if (!consumer || !this.joined) throw new Error(`consumer of group ${this.options.groupId} is (re)joining its group; offsets not committed`);
    const foreign = offsets.filter((o) => !this.assigned.some((a) => a.topic === o.topic && a.partition === o.partition));
    if (foreign.length) throw new Error(`partitions not assigned to this consumer: ${foreign.map((o) => `${o.topic}/${o.partition}`).join(', ')}`);
    if (offsets.length === 0) return;
    if (this.stopping) {
      // While stopping, kafkajs' consumer.commitOffsets is a no-op, but a batch still in flight
      // may commit through its own payload (straight to the group coordinator).
      const payload = this.inFlight.values().next().value as EachBatchPayload | undefined;
      if (!payload) throw new Error(`consumer of group ${this.options.groupId} is stopping; offsets not committed`);
      const topics = [...new Set(offsets.map((o) => o.topic))].map((topic) => ({
        topic,
        partitions: offsets.filter((o) => o.topic === topic).map((o) => ({ partition: o.partition, offset: String(o.offset) })),
      }));
      await payload.commitOffsetsIfNecessary({ topics });
      return;
    }
    await consumer.commitOffsets(offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: String(o.offset) })));
  }

  stop(): Promise<void> {
    this.stopped ??= (async () => {
      this.stopping = true;
      clearTimeout(this.restartTimer);
      await this.opening?.catch(() => undefined);
      // Waits for the batches in flight, then leaves the group (STOP revokes the partitions).
      await this.consumer?.disconnect().catch((error) => this.logger.warn('Kafka consumer did not disconnect cleanly', { error: String(error) }));
      this.joined = false;
      this.revoke();
      await this.revoking;
      this.consumer = undefined;
      this.stopping = false;
      this.settings.onStopped();
    })();
    return this.stopped;
  }

  private open(): Promise<void> {
    const opening = this.openConsumer();
    this.opening = opening;
    return opening;
  }

  private async openConsumer(): Promise<void> {
    const consumer = this.kafka.consumer({
      groupId: this.options.groupId,
      sessionTimeout: this.settings.sessionTimeoutMs,
      heartbeatInterval: Math.min(3000, Math.floor(this.settings.sessionTimeoutMs / 3)),
      maxWaitTimeInMs: FETCH_MAX_WAIT_MS,
      minBytes: FETCH_MIN_BYTES,
      allowAutoTopicCreation: false,
      retry: { ...RETRY, restartOnFailure: async () => true },
    });
    this.listen(consumer);
    this.consumer = consumer;
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: this.options.topics, fromBeginning: true });
      if (this.stopping) throw new Error('consumer stopped while starting');
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: this.settings.partitionsConsumedConcurrently,
        eachBatch: (payload) => this.eachBatch(consumer, payload),
      });
    } catch (error) {
      if (this.consumer === consumer) this.consumer = undefined;
      await consumer.disconnect().catch(() => undefined);
      throw error;
    }
  }

  private listen(consumer: Consumer): void {
    const mine = () => this.consumer === consumer;
    const { GROUP_JOIN, REBALANCING, STOP, CRASH } = consumer.events;
    consumer.on(GROUP_JOIN, ({ payload }) => {
      if (!mine()) return;
      // A join starts every partition again at its committed offset, kept or not.
      this.revoke();
      this.assigned = Object.entries(payload.memberAssignment).flatMap(([topic, partitions]) => partitions.map((partition) => ({ topic, partition })));
      this.joined = true;
      this.restarts = 0;
      this.logger.debug('joined consumer group', { assigned: payload.memberAssignment });
    });
    consumer.on(REBALANCING, () => {
      if (!mine()) return;
      this.joined = false;
      this.revoke();
    });
    consumer.on(STOP, () => {
      if (!mine()) return;
      this.joined = false;
      this.revoke();
    });
    consumer.on(CRASH, ({ payload }) => {
      if (!mine()) return;
      this.joined = false;
      this.revoke();
      if (payload.restart) {
        this.logger.warn('Kafka consumer crashed; kafkajs restarts it', { error: String(payload.error) });
        return;
      }
      this.logger.error('Kafka consumer crashed and kafkajs gave up on it; starting a new one', { error: String(payload.error) });
      this.consumer = undefined;
      void consumer.disconnect().catch(() => undefined);
      this.scheduleRestart();
    });
  }

  private scheduleRestart(): void {
    if (this.stopping || this.stopped) return;
    clearTimeout(this.restartTimer);
    const delay = Math.min(30_000, 500 * 2 ** Math.min(this.restarts++, 6));
    this.restartTimer = setTimeout(() => {
      if (this.stopping || this.stopped) return;
      this.open().catch((error) => {
        this.logger.warn('Kafka consumer restart failed; will retry', { error: String(error), retryInMs: delay });
        this.scheduleRestart();
      });
    }, delay);
  }

  /** Tells the caller its partitions are gone, once, in order with later batches. */
  private revoke(): void {
    if (this.assigned.length === 0) return;
    const partitions = this.assigned;
    this.assigned = [];
    const onRevoked = this.options.onRevoked;
    if (!onRevoked) return;
    this.revoking = this.revoking.then(() => onRevoked(partitions)).catch((error) => this.logger.warn('onRevoked failed', { error: String(error) }));
  }

  private async eachBatch(consumer: Consumer, payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    // kafkajs does not wait for event listeners: a revocation must be handled before new records.
    await this.revoking;
    this.inFlight.add(payload);
    try {
      for (let i = 0; i < batch.messages.length; i += this.settings.maxBatchRecords) {
        if (!payload.isRunning() || payload.isStale() || this.consumer !== consumer) return;
        const slice = batch.messages.slice(i, i + this.settings.maxBatchRecords);
        // A throw leaves the offsets unresolved: kafkajs retries and fetches the same records again.
        await this.options.onBatch(
          { topic: batch.topic, partition: batch.partition, records: slice.map((m) => toRecord(batch.topic, batch.partition, m)) },
          this,
        );
        for (const m of slice) payload.resolveOffset(m.offset);
        await payload.heartbeat();
      }
    } finally {
      this.inFlight.delete(payload);
    }
  }
}

function toRecord(topic: string, partition: number, m: KafkaMessage): StreamRecord {
  return {
    topic,
    partition,
    offset: Number(m.offset),
    key: m.key ? m.key.toString('utf8') : null,
    value: m.value ? m.value.toString('utf8') : '',
    timestamp: Number(m.timestamp),
    headers: headerStrings(m.headers),
  };
}

/** Kafka allows a header more than once; the last one wins, as with Java's `lastHeader`. */
function headerStrings(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    const last = Array.isArray(value) ? value[value.length - 1] : value;
    if (last !== undefined) out[name] = Buffer.isBuffer(last) ? last.toString('utf8') : String(last);
  }
  return out;
}

/**
 * kafkajs logs through our logger, in our format. It retries nearly everything it logs as an
 * error (connection refused while a broker restarts, a coordinator still loading), so its
 * errors and warnings are our warnings; what it cannot recover from reaches this adapter as a
 * crash or a thrown error, logged as an error there. Its info lines are our debug lines, and so
 * is its connection layer, which logs every error response and refused connection that the
 * producer, consumer and broker pool then report (and retry) once more themselves.
 */
function kafkaLogCreator(logger: Logger): logCreator {
  return () =>
    ({ namespace, level, log }) => {
      const { message, timestamp: _timestamp, logger: _logger, ...extra } = log as { message: string; [key: string]: unknown };
      const meta: Record<string, unknown> = { namespace };
      for (const [k, v] of Object.entries(extra)) {
        // kafkajs' correlationId numbers requests on a connection; ours names a saga.
        meta[k === 'correlationId' ? 'requestId' : k] = v instanceof Error ? String(v) : v;
      }
      // We bound the idempotent producer's retries on purpose (see getProducer / send).
      const deliberate = message.startsWith('Limiting retries for the idempotent producer');
      const loud = (level === logLevel.ERROR || level === logLevel.WARN) && namespace !== 'Connection' && !deliberate;
      if (loud) logger.warn(message, meta);
      else logger.debug(message, meta);
    };
}

async function retryUntil(timeoutMs: number, logger: Logger, what: string, attempt: () => Promise<void>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let n = 0; ; n++) {
    try {
      await attempt();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`cannot connect to ${what}: ${String(error)}`, { cause: error });
      logger.warn(`${what} not reachable yet`, { error: String(error) });
      await sleep(Math.min(2000, 100 * 2 ** n));
    }
  }
}
