import type * as amqp from 'amqplib';
import { randomUUID } from 'node:crypto';
import { backoffMs, type Backoff, type Logger } from '@app/platform';
import { failureHeaders } from '../headers';
import type { FailureInfo, InboundDelivery } from '../transport';
import type { RabbitMqTopology } from './rabbitmq.topology';

/** Our own delivery counter (1 + delayed retries): quorum queues own `x-delivery-count`. */
const DELIVERY = 'x-delivery-number';
/** Set by a quorum queue on a redelivery: how often the message came back unsettled (a crash, a lost channel, a requeue). */
const REDELIVERIES = 'x-delivery-count';

/** Why a message went to the dead-letter queue, in its `x-dead-letter-reason` header. */
export type DeadLetterReason = 'delivery-limit' | 'non-retryable' | 'retries-exhausted';

export interface SettlementOptions {
  /** The consumer's queue, as the consumer names it (without the namespace). */
  queue: string;
  topology: RabbitMqTopology;
  /** A confirmed publish: resolves once the broker accepted the copy, rejects if it refused it. */
  send(exchange: string, routingKey: string, content: Buffer, options: amqp.Options.Publish): Promise<void>;
  deliveryLimit: number;
  /** How long a delivery that could not be settled waits before it is requeued (by its redeliveries so far). */
  requeueBackoff: Backoff;
  logger: Logger;
}

/** A retry or dead-letter copy that the broker did not confirm: the original is not acked. */
class CopyNotConfirmed extends Error {
  constructor(
    readonly copy: 'retry' | 'dead-letter',
    readonly target: string,
    cause: unknown,
  ) {
    super(`${copy} copy to ${target} not confirmed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/**
 * One delivery, from its arrival to its settlement. It is settled once: acked after the
 * handler's commit, or acked once its copy (to a delay tier, or to the dead-letter queue) is
 * confirmed by the broker. A copy the broker refuses, or any failure before the delivery
 * settled, leaves it unacked and it is requeued (nack) after a backoff, so a broker that keeps
 * refusing is not asked again in a tight loop. A message the quorum queue has redelivered
 * `deliveryLimit` times without a settlement (its consumer crashed or lost its channel each
 * time) goes to the dead-letter queue without reaching the handler again.
 */
export async function settleDelivery(
  options: SettlementOptions,
  ch: amqp.Channel,
  msg: amqp.ConsumeMessage,
  onDelivery: (d: InboundDelivery) => Promise<void>,
): Promise<void> {
  const acks = acksOf(ch);
  acks.track(msg);
  const delivery = new Delivery(options, acks, msg);
  let failure: unknown;
  try {
    if (delivery.redeliveries >= options.deliveryLimit) await delivery.overLimit();
    else await onDelivery(delivery.inbound);
  } catch (error) {
    failure = error;
  }
  if (delivery.settled) return;
  const delayMs = backoffMs(delivery.redeliveries, options.requeueBackoff);
  const requeued = acks.requeue(msg, delayMs);
  options.logger.warn(failure instanceof CopyNotConfirmed ? `${failure.copy} copy not confirmed; the message was not acked` : 'delivery not settled', {
    queue: options.queue,
    messageId: msg.properties.messageId,
    error: failure === undefined ? 'the consumer returned without settling it' : String(failure),
    requeue: requeued ? `nack with requeue in ${delayMs} ms` : 'none: its channel is closed, so the broker has requeued it',
  });
}

class Delivery {
  readonly headers: Record<string, unknown>;
  readonly deliveryCount: number;
  readonly redeliveries: number;
  readonly routingKey: string;
  readonly inbound: InboundDelivery;
  settled = false;
  private settling = false;

  constructor(
    private readonly options: SettlementOptions,
    private readonly acks: ChannelAcks,
    private readonly msg: amqp.ConsumeMessage,
  ) {
    this.headers = { ...(msg.properties.headers ?? {}) } as Record<string, unknown>;
    this.deliveryCount = Number(this.headers[DELIVERY]) || 1;
    this.redeliveries = Number(this.headers[REDELIVERIES]) || 0;
    const original = this.headers['x-original-routing-key'];
    this.routingKey = typeof original === 'string' ? original : msg.fields.routingKey;
    this.inbound = {
      body: msg.content.toString('utf8'),
      routingKey: this.routingKey,
      headers: this.headers,
      deliveryCount: this.deliveryCount,
      ack: async () => {
        this.begin();
        this.ack();
      },
      retryLater: (delayMs, failure) => this.retryLater(delayMs, failure),
      deadLetter: (failure) => this.deadLetter(failure, failure.nonRetryable ? 'non-retryable' : 'retries-exhausted'),
    };
  }

  async overLimit(): Promise<void> {
    const now = new Date().toISOString();
    const prior = (name: string) => this.headers[name];
    await this.deadLetter(
      {
        error: `delivery limit: delivered ${this.redeliveries} times without being settled (its consumer crashed or lost its connection each time); the limit is ${this.options.deliveryLimit}`,
        attempts: typeof prior('x-attempts') === 'number' ? (prior('x-attempts') as number) : 0,
        deliveries: this.deliveryCount,
        nonRetryable: true,
        firstFailedAt: typeof prior('x-first-failed-at') === 'string' ? (prior('x-first-failed-at') as string) : now,
        failedAt: now,
      },
      'delivery-limit',
    );
    this.options.logger.error('message dead-lettered: delivery limit reached', {
      queue: this.options.queue,
      messageId: this.msg.properties.messageId,
      redeliveries: this.redeliveries,
    });
  }

  private async retryLater(delayMs: number, failure: FailureInfo): Promise<void> {
    this.begin();
    const tier = this.options.topology.tierQueue(this.options.queue, this.options.topology.tierFor(delayMs));
    // The tier's TTL caps the wait; the message's own keeps the policy's jitter within the tier.
    await this.copy(
      'retry',
      tier,
      { ...failureHeaders(failure), [DELIVERY]: this.deliveryCount + 1 },
      { expiration: String(Math.max(1, Math.round(delayMs))) },
    );
    this.ack();
  }

  private async deadLetter(failure: FailureInfo, reason: DeadLetterReason): Promise<void> {
    this.begin();
    await this.copy('dead-letter', this.options.topology.deadLetterQueue(this.options.queue), {
      ...failureHeaders(failure),
      'x-dead-letter-id': randomUUID(),
      'x-dead-lettered-at': new Date().toISOString(),
      'x-dead-letter-reason': reason,
      'x-consumer-queue': this.options.queue,
    });
    this.ack();
  }

  private begin(): void {
    if (this.settling) throw new Error('delivery already settled');
    this.settling = true;
  }

  private ack(): void {
    this.settled = true;
    this.acks.ack(this.msg);
  }

  /** The message again, to a queue of ours, keeping its properties and headers. */
  private async copy(kind: 'retry' | 'dead-letter', queue: string, extra: Record<string, unknown>, publish: amqp.Options.Publish = {}): Promise<void> {
    const { msg, headers } = this;
    // The quorum queue's count belongs to this copy of the message, not to the next one.
    const { [REDELIVERIES]: _count, ...kept } = headers;
    const props: amqp.Options.Publish = {
      contentType: msg.properties.contentType,
      messageId: msg.properties.messageId,
      type: msg.properties.type,
      appId: msg.properties.appId,
      correlationId: msg.properties.correlationId,
      timestamp: msg.properties.timestamp,
      headers: { ...kept, 'x-original-exchange': headers['x-original-exchange'] ?? msg.fields.exchange, 'x-original-routing-key': this.routingKey, ...extra },
      ...publish,
    };
    try {
      await this.options.send('', queue, msg.content, props);
    } catch (error) {
      throw new CopyNotConfirmed(kind, queue, error);
    }
  }
}

/**
 * A consumer channel's acks, in as few frames as possible: on the next turn of the event loop,
 * every delivery settled so far is acked, the settled run at the head of the channel's
 * outstanding deliveries with one `multiple` ack, any others one by one. A batch of handled
 * messages is one frame. A delivery that could not be settled stays outstanding (so no
 * `multiple` ack covers it) until it is requeued.
 */
class ChannelAcks {
  private readonly outstanding = new Map<number, amqp.Message>();
  private readonly settled = new Set<number>();
  private readonly requeues = new Map<number, NodeJS.Timeout>();
  private scheduled = false;
  private closed = false;

  constructor(private readonly ch: amqp.Channel) {
    ch.once('close', () => {
      // The broker requeues whatever the channel held unacked.
      this.closed = true;
      for (const timer of this.requeues.values()) clearTimeout(timer);
      this.requeues.clear();
    });
  }

  track(msg: amqp.Message): void {
    this.outstanding.set(msg.fields.deliveryTag, msg);
  }

  ack(msg: amqp.Message): void {
    this.settled.add(msg.fields.deliveryTag);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  /** Nacks with requeue after `delayMs`; false if the channel is closed (the broker has requeued it). */
  requeue(msg: amqp.Message, delayMs: number): boolean {
    if (this.closed) return false;
    const tag = msg.fields.deliveryTag;
    this.requeues.set(
      tag,
      setTimeout(() => this.nack(tag), delayMs),
    );
    return true;
  }

  /** Before the channel is closed on purpose: every pending ack and requeue now. */
  drain(): void {
    for (const tag of [...this.requeues.keys()]) this.nack(tag);
    this.flush();
  }

  private nack(tag: number): void {
    clearTimeout(this.requeues.get(tag));
    this.requeues.delete(tag);
    const msg = this.outstanding.get(tag);
    this.outstanding.delete(tag);
    if (!msg || this.closed) return;
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

/** Before a consumer channel is closed on purpose: its pending acks and requeues go out first. */
export function drainAcks(ch: amqp.Channel): void {
  channelAcks.get(ch)?.drain();
}
