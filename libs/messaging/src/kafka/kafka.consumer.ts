import type { Consumer, EachBatchPayload, IHeaders, KafkaMessage } from 'kafkajs';
import { backoffMs, sleep, type Logger } from '@app/platform';
import type { ConsumeOptions, StreamConsumerHandle, StreamRecord, TopicPartitionOffset } from '../stream/stream';
import { KafkaClient, RETRY, withDeadline, type KafkaClientSettings } from './kafka.client';

/**
 * Fetch long-poll: the broker answers once it has FETCH_MIN_BYTES for the consumer, or after
 * FETCH_MAX_WAIT_MS with what it has. Under load a fetch brings many records (one batch, one
 * projection transaction, instead of a record or two per fetch); at a trickle a record waits at
 * most FETCH_MAX_WAIT_MS. The stream is off the saga's path, so its latency can pay for that.
 */
const FETCH_MAX_WAIT_MS = 200;
const FETCH_MIN_BYTES = 64 * 1024;

export interface GroupConsumerSettings {
  client: Omit<KafkaClientSettings, 'logger'>;
  sessionTimeoutMs: number;
  maxBatchRecords: number;
  partitionsConsumedConcurrently: number;
  /** A call to the group coordinator (join, commit, leave) that has not settled by then is abandoned. */
  callDeadlineMs: number;
  /**
   * A member that has shown no sign of life (no fetch, heartbeat, join or crash) for this long is
   * stuck inside kafkajs: its client is discarded and a new consumer started.
   */
  stallMs: number;
  onStopped(): void;
}

type TopicPartition = { topic: string; partition: number };

/** Where a member is: one state, not a set of flags. */
type State =
  | { name: 'opening'; done: Promise<void> }
  | { name: 'joined' }
  | { name: 'rejoining' } // kafkajs is (re)joining the group or restarting its consumer itself
  | { name: 'restarting'; timer: NodeJS.Timeout } // we gave up on a consumer and wait to start the next
  | { name: 'stopping' }
  | { name: 'stopped' };

/**
 * One consumer group member, kept alive across kafkajs consumers (each on a KafkaClient of its
 * own). kafkajs restarts a consumer itself after failures it deems retriable (a broker down for
 * minutes is one: it crashes and restarts every ~10-30 s until the broker is back), but gives up
 * (CRASH with `restart: false`) on the others, e.g. a TypeError from a handler, and it can also
 * simply stop, its fetch loop awaiting a request that will never settle (see KafkaClient). In
 * both cases the client is discarded and a new consumer started, with backoff, for as long as
 * this member is not stopped. Every (re)join resets the positions to the committed offsets, so
 * the caller is told its partitions were revoked before records are delivered again.
 */
export class KafkaGroupConsumer implements StreamConsumerHandle {
  private state: State = { name: 'rejoining' };
  private current?: { client: KafkaClient; consumer: Consumer };
  private assigned: TopicPartition[] = [];
  private revoking: Promise<void> = Promise.resolve();
  private readonly inFlight = new Set<EachBatchPayload>();
  private stopped?: Promise<void>;
  private watchdog?: NodeJS.Timeout;
  private lastSignOfLife = Date.now();
  private restarts = 0;

  constructor(
    private readonly options: ConsumeOptions,
    private readonly logger: Logger,
    private readonly settings: GroupConsumerSettings,
  ) {}

  async start(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (let n = 0; ; n++) {
      try {
        await this.open();
        break;
      } catch (error) {
        if (Date.now() > deadline || this.isStopping())
          throw new Error(`cannot connect to Kafka (consumer group ${this.options.groupId}): ${String(error)}`, { cause: error });
        this.logger.warn(`Kafka (consumer group ${this.options.groupId}) not reachable yet`, { error: String(error) });
        await sleep(backoffMs(n, { baseMs: 100, maxMs: 2000 }));
      }
    }
    this.watchdog = setInterval(() => this.checkAlive(), Math.max(1000, Math.floor(this.settings.stallMs / 4)));
    this.watchdog.unref();
  }

  async commit(offsets: TopicPartitionOffset[]): Promise<void> {
    const current = this.current;
    if (this.state.name === 'stopped') throw new Error(`consumer of group ${this.options.groupId} is stopped; offsets not committed`);
    if (this.state.name !== 'joined' && this.state.name !== 'stopping')
      throw new Error(`consumer of group ${this.options.groupId} is (re)joining its group; offsets not committed`);
    if (!current) throw new Error(`consumer of group ${this.options.groupId} has no consumer; offsets not committed`);
    const foreign = offsets.filter((o) => !this.assigned.some((a) => a.topic === o.topic && a.partition === o.partition));
    if (foreign.length) throw new Error(`partitions not assigned to this consumer: ${foreign.map((o) => `${o.topic}/${o.partition}`).join(', ')}`);
    if (offsets.length === 0) return;
    const commit = (): Promise<unknown> => {
      if (this.state.name !== 'stopping')
        return current.consumer.commitOffsets(offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: String(o.offset) })));
      // While stopping, kafkajs' consumer.commitOffsets is a no-op, but a batch still in flight
      // may commit through its own payload (straight to the group coordinator).
      const payload = this.inFlight.values().next().value as EachBatchPayload | undefined;
      if (!payload) throw new Error(`consumer of group ${this.options.groupId} is stopping; offsets not committed`);
      const topics = [...new Set(offsets.map((o) => o.topic))].map((topic) => ({
        topic,
        partitions: offsets.filter((o) => o.topic === topic).map((o) => ({ partition: o.partition, offset: String(o.offset) })),
      }));
      return payload.commitOffsetsIfNecessary({ topics });
    };
    await withDeadline(commit(), this.settings.callDeadlineMs, `commit of group ${this.options.groupId}`, (error) => this.abandon(current, error));
  }

  stop(): Promise<void> {
    this.stopped ??= (async () => {
      const before = this.state;
      this.state = { name: 'stopping' };
      clearInterval(this.watchdog);
      if (before.name === 'restarting') clearTimeout(before.timer);
      if (before.name === 'opening') await before.done.catch(() => undefined);
      const current = this.current;
      if (current) {
        // Waits for the batches in flight, then leaves the group (STOP revokes the partitions).
        await withDeadline(current.consumer.disconnect(), this.settings.callDeadlineMs, `leave of group ${this.options.groupId}`, (error) =>
          current.client.discard(error.message),
        ).catch((error) => this.logger.warn('Kafka consumer did not disconnect cleanly', { error: String(error) }));
        current.client.discard('stopped');
      }
      this.revoke();
      await this.revoking;
      this.current = undefined;
      this.state = { name: 'stopped' };
      this.settings.onStopped();
    })();
    return this.stopped;
  }

  private isStopping(): boolean {
    return this.state.name === 'stopping' || this.state.name === 'stopped';
  }

  private open(): Promise<void> {
    const done = this.openConsumer();
    this.state = { name: 'opening', done };
    return done.then(
      () => {
        // A join may already have happened (the GROUP_JOIN listener set 'joined').
        if (this.state.name === 'opening') this.state = { name: 'rejoining' };
      },
      (error) => {
        if (this.state.name === 'opening') this.state = { name: 'rejoining' };
        throw error;
      },
    );
  }

  private async openConsumer(): Promise<void> {
    const client = new KafkaClient({ ...this.settings.client, logger: this.logger });
    const consumer = client.kafka.consumer({
      groupId: this.options.groupId,
      sessionTimeout: this.settings.sessionTimeoutMs,
      heartbeatInterval: Math.min(3000, Math.floor(this.settings.sessionTimeoutMs / 3)),
      maxWaitTimeInMs: FETCH_MAX_WAIT_MS,
      minBytes: FETCH_MIN_BYTES,
      allowAutoTopicCreation: false,
      retry: { ...RETRY, restartOnFailure: async () => true },
    });
    const current = { client, consumer };
    this.listen(current);
    this.current = current;
    this.lastSignOfLife = Date.now();
    const deadline = (work: Promise<unknown>, what: string) => withDeadline(work, this.settings.callDeadlineMs, what, (error) => client.discard(error.message));
    try {
      await deadline(consumer.connect(), 'consumer connect');
      await deadline(consumer.subscribe({ topics: this.options.topics, fromBeginning: true }), 'consumer subscribe');
      if (this.isStopping()) throw new Error('consumer stopped while starting');
      await deadline(
        consumer.run({
          autoCommit: false,
          eachBatchAutoResolve: false,
          partitionsConsumedConcurrently: this.settings.partitionsConsumedConcurrently,
          eachBatch: (payload) => this.eachBatch(consumer, payload),
        }),
        'consumer run',
      );
    } catch (error) {
      if (this.current === current) this.current = undefined;
      client.discard(`start failed: ${String(error)}`);
      void consumer.disconnect().catch(() => undefined);
      throw error;
    }
  }

  private listen(current: { client: KafkaClient; consumer: Consumer }): void {
    const { consumer } = current;
    const mine = () => this.current === current;
    const { GROUP_JOIN, REBALANCING, STOP, CRASH, FETCH_START, HEARTBEAT } = consumer.events;
    const alive = () => {
      if (mine()) this.lastSignOfLife = Date.now();
    };
    consumer.on(FETCH_START, alive);
    consumer.on(HEARTBEAT, alive);
    consumer.on(GROUP_JOIN, ({ payload }) => {
      if (!mine()) return;
      alive();
      // A join starts every partition again at its committed offset, kept or not.
      this.revoke();
      this.assigned = Object.entries(payload.memberAssignment).flatMap(([topic, partitions]) => partitions.map((partition) => ({ topic, partition })));
      if (!this.isStopping()) this.state = { name: 'joined' };
      this.restarts = 0;
      this.logger.debug('joined consumer group', { assigned: payload.memberAssignment });
    });
    const leave = () => {
      if (!mine()) return;
      if (!this.isStopping()) this.state = { name: 'rejoining' };
      this.revoke();
    };
    consumer.on(REBALANCING, leave);
    consumer.on(STOP, leave);
    consumer.on(CRASH, ({ payload }) => {
      if (!mine()) return;
      alive();
      leave();
      if (payload.restart) {
        this.logger.warn('Kafka consumer crashed; kafkajs restarts it', { error: String(payload.error) });
        return;
      }
      this.logger.error('Kafka consumer crashed and kafkajs gave up on it; starting a new one', { error: String(payload.error) });
      this.replace(current);
    });
  }

  /** A call of this consumer's did not settle in time: the consumer is replaced. */
  private abandon(current: { client: KafkaClient; consumer: Consumer }, error: Error): void {
    if (this.current !== current) return;
    this.logger.error('Kafka consumer call did not settle; starting a new consumer', { error: error.message });
    this.replace(current);
  }

  /** Silence past `stallMs` while not stopping: kafkajs is stuck; replace its consumer. */
  private checkAlive(): void {
    const current = this.current;
    if (!current || this.state.name === 'opening' || this.state.name === 'restarting' || this.isStopping()) return;
    const silentMs = Date.now() - this.lastSignOfLife;
    if (silentMs < this.settings.stallMs) return;
    this.logger.error('Kafka consumer silent; starting a new one', { silentMs });
    this.replace(current);
  }

  private replace(current: { client: KafkaClient; consumer: Consumer }): void {
    if (this.current !== current || this.isStopping()) return;
    this.current = undefined;
    this.revoke();
    // Its sockets are destroyed: whatever it awaits fails, and it cannot commit or fetch again.
    current.client.discard('replaced by a new consumer');
    void current.consumer.disconnect().catch(() => undefined);
    this.scheduleRestart();
  }

  private scheduleRestart(): void {
    if (this.isStopping()) return;
    const delay = backoffMs(this.restarts++, { baseMs: 500, maxMs: 30_000 });
    const timer = setTimeout(() => {
      if (this.isStopping()) return;
      this.open().catch((error) => {
        this.logger.warn('Kafka consumer restart failed; will retry', { error: String(error), retryInMs: delay });
        this.scheduleRestart();
      });
    }, delay);
    this.state = { name: 'restarting', timer };
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
        if (!payload.isRunning() || payload.isStale() || this.current?.consumer !== consumer) return;
        this.lastSignOfLife = Date.now();
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
