import type * as amqp from 'amqplib';
import { backoffMs, type Backoff, type Logger } from '@app/platform';
import { defaultRecoverability } from '../recoverability';
import type { ConsumerSpec, DeadLetter, DeadLetterPage, InboundDelivery, OutgoingMessage, Transport, TransportSubscription } from '../transport';
import { RabbitMqConnection } from './rabbitmq.connection';
import { RabbitMqDeadLetters } from './rabbitmq.dead-letters';
import { drainAcks, settleDelivery, type SettlementOptions } from './rabbitmq.settlement';
import { RabbitMqTopology, type RetryDelays } from './rabbitmq.topology';

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
  /**
   * The service this transport belongs to: its connection is named `<namespace><service>` on
   * the broker, so the management UI and API tell one service's connections from another's.
   */
  service?: string;
  /** Deliveries without a settlement (a crash each time) before a message is dead-lettered (default 20). */
  deliveryLimit?: number;
  /** The consumers' retry policy, from which the delay tiers are cut (default: the default policy). */
  retryDelays?: RetryDelays;
  /** How long a delivery that could not be settled is held before it is requeued, by its redeliveries so far. */
  requeueBackoff?: Backoff;
}

export const DEFAULT_DELIVERY_LIMIT = 20;
const DEFAULT_REQUEUE_BACKOFF: Backoff = { baseMs: 100, maxMs: 5000, jitter: 0.2 };
/** A consumer channel that closed while its connection lives (a channel error) is reopened after this. */
const CONSUMER_RESTART_BACKOFF: Backoff = { baseMs: 200, maxMs: 5000, jitter: 0.2 };

/** One subscription; `channel` is set while it consumes, `closing` once close() was called. */
interface Subscriber {
  spec: ConsumerSpec;
  onDelivery: (d: InboundDelivery) => Promise<void>;
  channel?: amqp.Channel;
  tag?: string;
  inFlight: number;
  closing: boolean;
  restarts: number;
  idle: Array<() => void>;
}

/**
 * The transport on RabbitMQ (amqplib), put together from four parts: the connection lifecycle
 * (rabbitmq.connection.ts), the topology and its delay tiers (rabbitmq.topology.ts), delivery
 * settlement (rabbitmq.settlement.ts) and the dead-letter admin (rabbitmq.dead-letters.ts).
 * This class keeps the subscriptions: it declares their queues at each (re)connect, consumes
 * them on a channel each, and closes them without losing an ack.
 *
 * Every publish is persistent and confirmed; a delivery is acked only after the handler's
 * transaction committed, or after its copy to a delay tier or the dead-letter queue was
 * confirmed. A lost connection is re-established with backoff and the consumers resubscribed;
 * acks lost with it become redeliveries, which the inbox absorbs.
 */
export class RabbitMqTransport implements Transport {
  readonly exchange: string;
  readonly topology: RabbitMqTopology;
  private readonly connection: RabbitMqConnection;
  private readonly admin: RabbitMqDeadLetters;
  private readonly subs = new Set<Subscriber>();
  private readonly deliveryLimit: number;
  private closing = false;
  private readonly destination: { system: string; name: string };

  destinationOf(): { system: string; name: string } {
    return this.destination;
  }

  constructor(private readonly options: RabbitMqTransportOptions) {
    const namespace = options.namespace ?? '';
    this.deliveryLimit = options.deliveryLimit ?? DEFAULT_DELIVERY_LIMIT;
    this.topology = new RabbitMqTopology({
      namespace,
      exchange: options.exchange ?? 'saga.events',
      deliveryLimit: this.deliveryLimit,
      retryDelays: options.retryDelays ?? defaultRecoverability,
      logger: options.logger,
    });
    this.exchange = this.topology.exchange;
    this.destination = { system: 'rabbitmq', name: this.exchange };
    this.connection = new RabbitMqConnection(
      {
        url: options.url,
        logger: options.logger,
        connectTimeoutMs: options.connectTimeoutMs,
        connectionName: options.service === undefined ? undefined : `${namespace}${options.service}`,
      },
      {
        declare: async (model) => {
          await this.topology.declareExchange(model);
          await this.topology.declareConsumers(model, this.consumerQueues());
        },
        resume: async (model) => {
          for (const sub of this.subs) if (!sub.closing) await this.startConsumer(sub, model);
        },
        lost: () => {
          for (const sub of this.subs) sub.channel = undefined;
        },
      },
    );
    this.admin = new RabbitMqDeadLetters(this.connection, this.topology);
  }

  queueName(queue: string): string {
    return this.topology.queueName(queue);
  }

  isReady(): boolean {
    return this.connection.isReady();
  }

  connect(): Promise<void> {
    return this.connection.connect();
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
        // traceparent: for tools that read headers; the consumer takes it from the envelope.
        headers: {
          'message-id': m.envelope.messageId,
          'message-type': m.envelope.type,
          ...(m.envelope.traceparent ? { traceparent: m.envelope.traceparent } : {}),
        },
      };
      for (let i = 0; i < copies; i++) confirms.push(this.connection.send(this.exchange, m.routingKey, content, props));
    }
    await Promise.all(confirms);
  }

  async subscribe(spec: ConsumerSpec, onDelivery: (d: InboundDelivery) => Promise<void>): Promise<TransportSubscription> {
    const sub: Subscriber = { spec, onDelivery, inFlight: 0, closing: false, restarts: 0, idle: [] };
    this.subs.add(sub);
    if (this.connection.isReady()) {
      const model = this.connection.current();
      await this.topology.declareConsumers(model, new Map([[spec.queue, spec.bindings]]));
      await this.startConsumer(sub, model);
    }
    return { close: () => this.closeSub(sub) };
  }

  deadLetters(queue: string, page?: DeadLetterPage): Promise<DeadLetter[]> {
    return this.admin.list(queue, page);
  }

  deadLetterCount(queue: string): Promise<number> {
    return this.admin.count(queue);
  }

  replayDeadLetters(queue: string, id?: string): Promise<number> {
    return this.admin.replay(queue, id);
  }

  purgeDeadLetters(queue: string, id?: string): Promise<number> {
    return this.admin.purge(queue, id);
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const sub of [...this.subs]) await this.closeSub(sub);
    await this.connection.close();
  }

  /** The queues declared at each connect: the configured topology and every subscription's. */
  private consumerQueues(): Map<string, readonly string[]> {
    const queues = new Map<string, readonly string[]>(Object.entries(this.options.topology ?? {}));
    for (const sub of this.subs) if (!sub.closing) queues.set(sub.spec.queue, [...new Set([...(queues.get(sub.spec.queue) ?? []), ...sub.spec.bindings])]);
    return queues;
  }

  private async startConsumer(sub: Subscriber, model: amqp.ChannelModel): Promise<void> {
    const ch = await model.createChannel();
    ch.on('error', (e) => this.options.logger.warn('RabbitMQ consumer channel error', { queue: sub.spec.queue, error: String(e) }));
    ch.on('close', () => this.onConsumerClosed(sub, ch, model));
    await ch.prefetch(sub.spec.prefetch);
    const settlement = this.settlementOf(sub);
    const { consumerTag } = await ch.consume(this.topology.queueName(sub.spec.queue), (msg) => {
      if (msg) this.deliver(sub, settlement, ch, msg);
    });
    sub.channel = ch;
    sub.tag = consumerTag;
    sub.restarts = 0;
  }

  /** A consumer channel closed by the broker while the connection lives (a channel error) is reopened. */
  private onConsumerClosed(sub: Subscriber, ch: amqp.Channel, model: amqp.ChannelModel): void {
    if (sub.channel !== ch) return;
    sub.channel = undefined;
    if (sub.closing || this.closing || !this.connection.isCurrent(model)) return;
    const delay = backoffMs(sub.restarts++, CONSUMER_RESTART_BACKOFF);
    this.options.logger.warn('RabbitMQ consumer channel closed; reopening it', { queue: sub.spec.queue, retryInMs: delay });
    setTimeout(() => {
      if (sub.closing || sub.channel || !this.connection.isCurrent(model)) return;
      this.startConsumer(sub, model).catch((error) => {
        this.options.logger.warn('RabbitMQ consumer could not be reopened; it resumes with the next connection', {
          queue: sub.spec.queue,
          error: String(error),
        });
      });
    }, delay);
  }

  private settlementOf(sub: Subscriber): SettlementOptions {
    return {
      queue: sub.spec.queue,
      topology: this.topology,
      send: (exchange, routingKey, content, props) => this.connection.send(exchange, routingKey, content, props),
      deliveryLimit: this.deliveryLimit,
      requeueBackoff: this.options.requeueBackoff ?? DEFAULT_REQUEUE_BACKOFF,
      logger: this.options.logger,
    };
  }

  private deliver(sub: Subscriber, settlement: SettlementOptions, ch: amqp.Channel, msg: amqp.ConsumeMessage): void {
    sub.inFlight++;
    settleDelivery(settlement, ch, msg, sub.onDelivery)
      .catch((error) => this.options.logger.error('delivery settlement failed', { queue: sub.spec.queue, error: String(error) }))
      .finally(() => {
        sub.inFlight--;
        if (sub.closing && sub.inFlight === 0) sub.idle.splice(0).forEach((resolve) => resolve());
      });
  }

  private async closeSub(sub: Subscriber): Promise<void> {
    sub.closing = true;
    if (sub.channel && sub.tag) await sub.channel.cancel(sub.tag).catch(() => undefined);
    if (sub.inFlight > 0) await new Promise<void>((resolve) => sub.idle.push(resolve));
    const ch = sub.channel;
    if (ch) {
      // The acks of the last deliveries are still waiting for their flush: send them first.
      drainAcks(ch);
      await ch.close().catch(() => undefined);
    }
    this.subs.delete(sub);
  }
}
