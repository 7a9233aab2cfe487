import * as amqp from 'amqplib';
import { randomUUID } from 'node:crypto';
import type { Logger } from '@app/platform';
import { failureHeaders, replayHeaders } from '../headers';
import {
  type ConsumerSpec,
  type DeadLetter,
  type FailureInfo,
  type InboundDelivery,
  type OutgoingMessage,
  type TransportSubscription,
  type Transport,
  type DeadLetterPage,
  MAX_DEAD_LETTER_POSITION,
} from '../transport';
import { sleep } from '@app/platform';

export interface RabbitMqTransportOptions {
  url: string;
  logger: Logger;
  /** Prefix for the exchange and every queue, to keep systems apart on one broker. */
  namespace?: string;
  exchange?: string;
  /** Every consumer queue and its bindings, declared at each (re)connect. */
  topology?: Record<string, string[]>;
  /** Publish every message twice: at-least-once taken to its limit, to prove the inboxes. */
  duplicatePublish?: boolean;
  /** How long the first connect keeps trying before start-up fails. */
  connectTimeoutMs?: number;
}

interface Sub {
  spec: ConsumerSpec;
  onDelivery: (d: InboundDelivery) => Promise<void>;
  channel?: amqp.Channel;
  tag?: string;
  inFlight: number;
  closing: boolean;
  idle: Array<() => void>;
}

/** Our own delivery counter: quorum queues own `x-delivery-count`. */
const DELIVERY = 'x-delivery-number';

/**
 * The transport on RabbitMQ (amqplib). Topology, per consumer `<q>`:
 * - `<q>`: durable quorum queue bound to the topic exchange by routing keys;
 * - `<q>.retry.<n>`: classic delay queues; a message waits its per-message TTL (the backoff
 *   with jitter for retry n) and is dead-lettered back to `<q>` by the broker;
 * - `<q>.dlq`: durable quorum queue of dead letters, with error, stack, attempts, original
 *   exchange/routing key and timestamps in headers.
 * Every publish is persistent and confirmed; a delivery is acked only after the handler's
 * transaction committed (or after its copy to a retry/DLQ queue was confirmed). A lost
 * connection is re-established with backoff and consumers are resubscribed; acks lost with it
 * become redeliveries, which the inbox absorbs.
 */
export class RabbitMqTransport implements Transport {
  private model?: amqp.ChannelModel;
  private pub?: amqp.ConfirmChannel;
  private ready = false;
  private closing = false;
  private reconnectAttempt = 0;
  private reconnectTimer?: NodeJS.Timeout;
  private readonly subs = new Set<Sub>();
  private readonly declared = new Set<string>();
  private readonly ns: string;
  readonly exchange: string;

  constructor(private readonly options: RabbitMqTransportOptions) {
    this.ns = options.namespace ?? '';
    this.exchange = `${this.ns}${options.exchange ?? 'saga.events'}`;
  }

  queueName(queue: string): string {
    return `${this.ns}${queue}`;
  }

  isReady(): boolean {
    return this.ready;
  }

  async connect(): Promise<void> {
    const deadline = Date.now() + (this.options.connectTimeoutMs ?? 30_000);
    for (let attempt = 0; ; attempt++) {
      try {
        await this.open();
        return;
      } catch (error) {
        if (Date.now() > deadline) throw new Error(`cannot connect to RabbitMQ: ${String(error)}`, { cause: error });
        this.options.logger.warn('RabbitMQ not reachable yet', { error: String(error) });
        await sleep(Math.min(2000, 100 * 2 ** attempt));
      }
    }
  }

  private async open(): Promise<void> {
    const url = new URL(this.options.url);
    if (!url.searchParams.has('heartbeat')) url.searchParams.set('heartbeat', '10');
    // noDelay: a publish or an ack is a small frame; Nagle's algorithm would hold it back for
    // the peer's delayed ACK (tens of milliseconds per hop of the saga).
    const model = await amqp.connect(url.toString(), { noDelay: true });
    coalesceWrites(model);
    try {
      model.on('error', (e) => this.options.logger.warn('RabbitMQ connection error', { error: String(e) }));
      model.on('close', () => this.onClosed(model));
      const pub = await model.createConfirmChannel();
      pub.setMaxListeners(0);
      pub.on('error', (e) => this.options.logger.warn('RabbitMQ publish channel error', { error: String(e) }));
      // A broken publish channel is rare (a precondition failure); start over with a new connection.
      pub.on('close', () => {
        if (this.pub === pub && !this.closing) void model.close().catch(() => undefined);
      });
      await pub.assertExchange(this.exchange, 'topic', { durable: true });
      this.declared.clear();
      for (const [queue, bindings] of Object.entries(this.options.topology ?? {})) await this.declareConsumerQueue(pub, queue, bindings);
      this.model = model;
      this.pub = pub;
      this.ready = true;
      for (const sub of this.subs) if (!sub.closing) await this.startConsumer(sub);
      this.options.logger.info('connected to RabbitMQ', { exchange: this.exchange });
    } catch (error) {
      this.ready = false;
      await model.close().catch(() => undefined);
      throw error;
    }
  }

  private onClosed(model: amqp.ChannelModel): void {
    if (this.model !== model && this.model !== undefined) return;
    this.ready = false;
    this.model = undefined;
    this.pub = undefined;
    for (const sub of this.subs) sub.channel = undefined;
    if (this.closing) return;
    this.options.logger.warn('RabbitMQ connection lost; reconnecting');
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    clearTimeout(this.reconnectTimer);
    const delay = Math.min(5000, 200 * 2 ** Math.min(this.reconnectAttempt++, 5));
    this.reconnectTimer = setTimeout(async () => {
      if (this.closing || this.ready) return;
      try {
        await this.open();
        this.reconnectAttempt = 0;
      } catch (error) {
        this.options.logger.warn('RabbitMQ reconnect failed', { error: String(error), retryInMs: delay });
        this.scheduleReconnect();
      }
    }, delay);
  }

  private async declareConsumerQueue(ch: amqp.Channel, queue: string, bindings: string[]): Promise<void> {
    const q = this.queueName(queue);
    await ch.assertQueue(q, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
    for (const b of bindings) await ch.bindQueue(q, this.exchange, b);
    await ch.assertQueue(`${q}.dlq`, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
  }

  private async delayQueue(queue: string, level: number): Promise<string> {
    const name = `${this.queueName(queue)}.retry.${level}`;
    if (!this.declared.has(name)) {
      await this.requirePub().assertQueue(name, {
        durable: true,
        arguments: { 'x-queue-type': 'classic', 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': this.queueName(queue) },
      });
      this.declared.add(name);
    }
    return name;
  }

  private requirePub(): amqp.ConfirmChannel {
    if (!this.ready || !this.pub) throw new Error('RabbitMQ is not connected');
    return this.pub;
  }

  /** Publishes on the confirm channel; resolves when the broker confirmed this message. */
  private send(exchange: string, routingKey: string, content: Buffer, options: amqp.Options.Publish): Promise<void> {
    const ch = this.requirePub();
    return new Promise<void>((resolve, reject) => {
      const onClose = () => reject(new Error('channel closed before the broker confirmed'));
      ch.once('close', onClose);
      ch.publish(exchange, routingKey, content, { persistent: true, ...options }, (err) => {
        ch.removeListener('close', onClose);
        if (err) reject(err instanceof Error ? err : new Error('message nacked by the broker'));
        else resolve();
      });
    });
  }

  async publish(messages: readonly OutgoingMessage[]): Promise<void> {
    const copies = this.options.duplicatePublish ? 2 : 1;
    const confirms: Promise<void>[] = [];
    for (const m of messages) {
      const content = Buffer.from(m.body ?? JSON.stringify(m.envelope));
      const props: amqp.Options.Publish = {
        contentType: 'application/json',
        messageId: m.envelope.messageId,
        type: m.envelope.type,
        appId: m.envelope.source,
        correlationId: m.envelope.correlationId,
        timestamp: Math.floor(Date.now() / 1000),
        headers: { 'message-id': m.envelope.messageId, 'message-type': m.envelope.type },
      };
      for (let i = 0; i < copies; i++) confirms.push(this.send(this.exchange, m.routingKey, content, props));
    }
    await Promise.all(confirms);
  }

  async subscribe(spec: ConsumerSpec, onDelivery: (d: InboundDelivery) => Promise<void>): Promise<TransportSubscription> {
    const sub: Sub = { spec, onDelivery, inFlight: 0, closing: false, idle: [] };
    this.subs.add(sub);
    if (this.ready) await this.startConsumer(sub);
    return { close: () => this.closeSub(sub) };
  }

  private async startConsumer(sub: Sub): Promise<void> {
    const model = this.model;
    if (!model) return;
    const ch = await model.createChannel();
    ch.on('error', (e) => this.options.logger.warn('RabbitMQ consumer channel error', { queue: sub.spec.queue, error: String(e) }));
    await this.declareConsumerQueue(ch, sub.spec.queue, sub.spec.bindings);
    await ch.prefetch(sub.spec.prefetch);
    const { consumerTag } = await ch.consume(this.queueName(sub.spec.queue), (msg) => {
      if (msg) this.deliver(sub, ch, msg);
    });
    sub.channel = ch;
    sub.tag = consumerTag;
  }

  private deliver(sub: Sub, ch: amqp.Channel, msg: amqp.ConsumeMessage): void {
    sub.inFlight++;
    const acks = acksOf(ch);
    acks.track(msg);
    const headers = { ...(msg.properties.headers ?? {}) } as Record<string, unknown>;
    const deliveryCount = Number(headers[DELIVERY]) || 1;
    const routingKey = typeof headers['x-original-routing-key'] === 'string' ? headers['x-original-routing-key'] : msg.fields.routingKey;
    // Settled once: by an ack, or once its copy (retry, dead letter) is confirmed. A copy the
    // broker refuses leaves it unsettled, and it is requeued below.
    let settling = false;
    let settled = false;
    const begin = () => {
      if (settling) throw new Error('delivery already settled');
      settling = true;
    };
    const ack = () => {
      settled = true;
      acks.ack(msg);
    };
    const copyProps = (extra: Record<string, unknown>): amqp.Options.Publish => ({
      contentType: msg.properties.contentType,
      messageId: msg.properties.messageId,
      type: msg.properties.type,
      appId: msg.properties.appId,
      correlationId: msg.properties.correlationId,
      timestamp: msg.properties.timestamp,
      headers: { ...headers, 'x-original-exchange': headers['x-original-exchange'] ?? msg.fields.exchange, 'x-original-routing-key': routingKey, ...extra },
    });
    const delivery: InboundDelivery = {
      body: msg.content.toString('utf8'),
      routingKey,
      headers,
      deliveryCount,
      ack: async () => {
        begin();
        ack();
      },
      retryLater: async (delayMs: number, failure: FailureInfo) => {
        begin();
        const queue = await this.delayQueue(sub.spec.queue, deliveryCount);
        await this.send('', queue, msg.content, {
          ...copyProps({ ...failureHeaders(failure), [DELIVERY]: deliveryCount + 1 }),
          expiration: String(Math.max(1, Math.round(delayMs))),
        });
        ack();
      },
      deadLetter: async (failure: FailureInfo) => {
        begin();
        await this.send(
          '',
          `${this.queueName(sub.spec.queue)}.dlq`,
          msg.content,
          copyProps({
            ...failureHeaders(failure),
            'x-dead-letter-id': randomUUID(),
            'x-dead-lettered-at': new Date().toISOString(),
            'x-consumer-queue': sub.spec.queue,
          }),
        );
        ack();
      },
    };
    sub
      .onDelivery(delivery)
      .catch((error) => this.options.logger.warn('delivery failed without settling; requeued', { queue: sub.spec.queue, error: String(error) }))
      .finally(() => {
        if (!settled) acks.requeue(msg);
        sub.inFlight--;
        if (sub.closing && sub.inFlight === 0) sub.idle.splice(0).forEach((r) => r());
      });
  }

  private async closeSub(sub: Sub): Promise<void> {
    sub.closing = true;
    if (sub.channel && sub.tag) await sub.channel.cancel(sub.tag).catch(() => undefined);
    if (sub.inFlight > 0) await new Promise<void>((r) => sub.idle.push(r));
    await sub.channel?.close().catch(() => undefined);
    this.subs.delete(sub);
  }

  /** Reads dead letters without removing them: got unacked, then requeued when the channel closes. */
  private async withDeadLetters(
    queue: string,
    visit: (ch: amqp.Channel, m: amqp.GetMessage, d: DeadLetter) => Promise<'keep' | 'taken'>,
    limit = 10_000,
  ): Promise<number> {
    if (!this.model) throw new Error('RabbitMQ is not connected');
    const dlq = `${this.queueName(queue)}.dlq`;
    const ch = await this.model.createChannel();
    let taken = 0;
    let kept = 0;
    try {
      // Only what is there now: a replayed message that fails again must not be met twice.
      const { messageCount } = await ch.checkQueue(dlq);
      for (let i = 0; i < Math.min(limit, messageCount); i++) {
        const m = await ch.get(dlq, { noAck: false });
        if (!m) break;
        if ((await visit(ch, m, toDeadLetter(queue, m))) === 'taken') {
          ch.ack(m);
          taken++;
        } else {
          kept++;
        }
      }
    } finally {
      await ch.close().catch(() => undefined);
    }
    // Closing the channel requeues what we kept; a quorum queue does that asynchronously, so
    // wait until it is visible again before the next DLQ operation looks.
    const until = Date.now() + 3000;
    while (kept > 0 && Date.now() < until && (await this.requirePub().checkQueue(dlq)).messageCount < kept) await sleep(20);
    return taken;
  }

  async deadLetters(queue: string, page: DeadLetterPage = { offset: 0, limit: MAX_DEAD_LETTER_POSITION }): Promise<DeadLetter[]> {
    const out: DeadLetter[] = [];
    let position = 0;
    await this.withDeadLetters(
      queue,
      async (_ch, _m, d) => {
        if (position++ >= page.offset) out.push(d);
        return 'keep';
      },
      Math.min(MAX_DEAD_LETTER_POSITION, page.offset + page.limit),
    );
    return out;
  }

  async replayDeadLetters(queue: string, id?: string): Promise<number> {
    return this.withDeadLetters(queue, async (_ch, m, d) => {
      if (id !== undefined && d.id !== id) return 'keep';
      await this.send('', this.queueName(queue), m.content, {
        contentType: m.properties.contentType,
        messageId: m.properties.messageId,
        type: m.properties.type,
        appId: m.properties.appId,
        correlationId: m.properties.correlationId,
        headers: replayHeaders({ ...d.headers }),
      });
      return 'taken';
    });
  }

  async purgeDeadLetters(queue: string, id?: string): Promise<number> {
    if (id === undefined) {
      const ch = this.requirePub();
      const { messageCount } = await ch.purgeQueue(`${this.queueName(queue)}.dlq`);
      return messageCount;
    }
    return this.withDeadLetters(queue, async (_ch, _m, d) => (d.id === id ? 'taken' : 'keep'));
  }

  async close(): Promise<void> {
    this.closing = true;
    clearTimeout(this.reconnectTimer);
    for (const sub of [...this.subs]) await this.closeSub(sub);
    this.ready = false;
    await this.model?.close().catch(() => undefined);
    this.model = undefined;
  }
}

function toDeadLetter(queue: string, m: amqp.GetMessage): DeadLetter {
  const h = (m.properties.headers ?? {}) as Record<string, unknown>;
  const num = (v: unknown) => (typeof v === 'number' ? v : Number(v) || 0);
  return {
    id: String(h['x-dead-letter-id'] ?? m.properties.messageId ?? ''),
    queue,
    routingKey: String(h['x-original-routing-key'] ?? m.fields.routingKey),
    body: m.content.toString('utf8'),
    headers: h,
    failure: {
      error: String(h['x-last-error'] ?? ''),
      stack: typeof h['x-last-error-stack'] === 'string' ? h['x-last-error-stack'] : undefined,
      attempts: num(h['x-attempts']),
      deliveries: num(h['x-deliveries']),
      nonRetryable: h['x-non-retryable'] === true,
      firstFailedAt: String(h['x-first-failed-at'] ?? ''),
      failedAt: String(h['x-last-failed-at'] ?? ''),
    },
    deadLetteredAt: String(h['x-dead-lettered-at'] ?? ''),
  };
}

/**
 * amqplib writes every frame to the socket on its own (its Mux hands chunks to the socket one
 * by one); on loopback each write is a system call that costs as much as the work it carries.
 * Corking the socket for one pass of the Mux turns a batch's publishes and acks into one
 * write. Reaches into amqplib 0.10's internals (connection.muxer), so it checks their shape and
 * leaves amqplib as it is if they changed (ADR 0007).
 */
function coalesceWrites(model: amqp.ChannelModel): void {
  const mux = (model as unknown as { connection?: { muxer?: { _readIncoming?: () => void; out?: { cork?: () => void; uncork?: () => void } } } }).connection
    ?.muxer;
  const out = mux?.out;
  if (!mux?._readIncoming || !out?.cork || !out.uncork) return;
  const read = mux._readIncoming.bind(mux);
  mux._readIncoming = () => {
    out.cork!();
    try {
      read();
    } finally {
      out.uncork!();
    }
  };
}

/**
 * A consumer channel's acks, in as few frames as possible: on the next turn of the event loop,
 * every delivery settled so far is acked, the settled run at the head of the channel's
 * outstanding deliveries with one `multiple` ack, any others one by one. A batch of handled
 * messages is one frame. A delivery that failed without settling is requeued at once.
 */
class ChannelAcks {
  private readonly outstanding = new Map<number, amqp.Message>();
  private readonly settled = new Set<number>();
  private scheduled = false;

  constructor(private readonly ch: amqp.Channel) {}

  track(msg: amqp.Message): void {
    this.outstanding.set(msg.fields.deliveryTag, msg);
  }

  ack(msg: amqp.Message): void {
    this.settled.add(msg.fields.deliveryTag);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  requeue(msg: amqp.Message): void {
    this.outstanding.delete(msg.fields.deliveryTag);
    try {
      this.ch.nack(msg, false, true);
    } catch {
      // channel gone: the broker requeues it anyway
    }
  }

  private flush(): void {
    this.scheduled = false;
    const tags = [...this.outstanding.keys()].sort((a, b) => a - b);
    let head: amqp.Message | undefined;
    for (const tag of tags) {
      if (!this.settled.has(tag)) break;
      head = this.outstanding.get(tag);
      this.outstanding.delete(tag);
      this.settled.delete(tag);
    }
    try {
      if (head) this.ch.ack(head, true);
      for (const tag of this.settled) {
        this.ch.ack(this.outstanding.get(tag)!);
        this.outstanding.delete(tag);
      }
    } catch {
      // The channel died after the commits: the broker redelivers, the inboxes absorb it.
    }
    this.settled.clear();
  }
}

const channelAcks = new WeakMap<amqp.Channel, ChannelAcks>();
function acksOf(ch: amqp.Channel): ChannelAcks {
  let acks = channelAcks.get(ch);
  if (!acks) channelAcks.set(ch, (acks = new ChannelAcks(ch)));
  return acks;
}
