import type * as amqp from 'amqplib';
import { backoffMs, type Logger } from '@app/platform';
import type { RecoverabilityOptions } from '../recoverability';

/** The delays of the retry policy, from which the delay tiers are cut. */
export type RetryDelays = Pick<RecoverabilityOptions, 'baseDelayMs' | 'maxDelayMs' | 'jitter'>;

/**
 * The delay tiers, in milliseconds: one per backoff step of the policy (`base · 2^k`, up to the
 * cap), each at the upper edge of its jitter (the longest delay that step can draw), so a retry
 * waits in the tier of its own step and never in the next one. With the defaults (1 s, 60 s,
 * ±20 %): 1.2 s, 2.4 s, 4.8 s, 9.6 s, 19.2 s, 38.4 s, 72 s.
 */
export function retryTiers(delays: RetryDelays): number[] {
  const tiers = new Set<number>();
  for (let step = 0; step <= 30; step++) {
    const nominal = backoffMs(step, { baseMs: delays.baseDelayMs, maxMs: delays.maxDelayMs });
    tiers.add(Math.max(1, Math.ceil(nominal * (1 + delays.jitter))));
    if (nominal >= delays.maxDelayMs) break;
  }
  return [...tiers].sort((a, b) => a - b);
}

export interface RabbitMqTopologyOptions {
  /** Prefix for the exchange and every queue. */
  namespace: string;
  exchange: string;
  /** A message delivered this many times without being settled is dead-lettered (`x-delivery-limit`). */
  deliveryLimit: number;
  retryDelays: RetryDelays;
  logger: Logger;
}

/**
 * The broker objects, per consumer `<q>`:
 * - `<q>`: durable quorum queue bound to the topic exchange by routing keys, with
 *   `x-delivery-limit`: a message returned more often than that without being settled (its
 *   consumer crashed or lost its connection each time) is dead-lettered by the broker into
 *   `<q>.dlq` (at least once). The transport's own check (rabbitmq.settlement.ts) comes first
 *   and writes the reason; the broker's limit is the backstop for when it cannot;
 * - `<q>.retry.<ttl>ms`: one classic delay queue per tier of the retry policy, declared with
 *   the rest (a fixed set, however long an outage lasts), with `x-message-ttl` at the tier's
 *   upper edge, dead-lettering back into `<q>`. A retry is published to the shortest tier at
 *   least as long as its delay, with that delay as its per-message TTL (the lower of the two
 *   applies). A queue expires messages only at its head, so a message can wait for the one
 *   ahead of it; in a tier every delay lies within one step's jitter band, so that wait is at
 *   most the band's width (0.4 × the step with ±20 % jitter), never a longer tier's delay;
 * - `<q>.dlq`: durable quorum queue of dead letters (no delivery limit: listing them reads
 *   and returns each one).
 * A queue that exists with other arguments (declared by an earlier version) is kept as it is,
 * with a warning: RabbitMQ refuses to change a queue's arguments (PRECONDITION_FAILED), and
 * docs/operations.md says how to upgrade.
 */
export class RabbitMqTopology {
  readonly exchange: string;
  readonly tiers: readonly number[];
  private readonly warned = new Set<string>();

  constructor(private readonly options: RabbitMqTopologyOptions) {
    this.exchange = `${options.namespace}${options.exchange}`;
    this.tiers = retryTiers(options.retryDelays);
  }

  queueName(queue: string): string {
    return `${this.options.namespace}${queue}`;
  }

  deadLetterQueue(queue: string): string {
    return `${this.queueName(queue)}.dlq`;
  }

  tierQueue(queue: string, tierMs: number): string {
    return `${this.queueName(queue)}.retry.${tierMs}ms`;
  }

  /** The shortest tier at least `delayMs` long; the longest one for a delay beyond every tier. */
  tierFor(delayMs: number): number {
    const tier = this.tiers.find((t) => t >= delayMs);
    if (tier !== undefined) return tier;
    const longest = this.tiers[this.tiers.length - 1];
    this.warnOnce(`delay:${longest}`, 'a retry delay is longer than the longest delay tier; it waits that tier', {
      delayMs,
      tierMs: longest,
      hint: "the transport cuts its tiers from the retry policy it was given; give it the consumers' policy (nest/infrastructure.ts does)",
    });
    return longest;
  }

  /** The exchange; declared on a channel of its own, like every declaration. */
  async declareExchange(model: amqp.ChannelModel): Promise<void> {
    await new Declarations(model).run((d) => d.exchange(this.exchange));
  }

  /** Every queue of these consumers, with their bindings. */
  async declareConsumers(model: amqp.ChannelModel, consumers: ReadonlyMap<string, readonly string[]>): Promise<void> {
    await new Declarations(model).run(async (d) => {
      for (const [queue, bindings] of consumers) await this.declareConsumer(d, queue, bindings);
    });
  }

  private async declareConsumer(d: Declarations, queue: string, bindings: readonly string[]): Promise<void> {
    const q = this.queueName(queue);
    const dlq = this.deadLetterQueue(queue);
    const limit = this.options.deliveryLimit;
    const kept = await d.queue(q, {
      'x-queue-type': 'quorum',
      'x-delivery-limit': limit,
      'x-dead-letter-exchange': '',
      'x-dead-letter-routing-key': dlq,
      // At-least-once dead-lettering (RabbitMQ 3.10+) needs reject-publish; without a length
      // limit nothing is ever rejected.
      'x-dead-letter-strategy': 'at-least-once',
      'x-overflow': 'reject-publish',
    });
    if (kept) {
      // RabbitMQ never changes the arguments of an existing queue (a redeclare with others is
      // PRECONDITION_FAILED), and a client cannot set policies. The transport's own check of
      // x-delivery-count still dead-letters at the limit; the broker does not, unless a policy does.
      this.warnOnce(`queue:${q}`, 'queue declared earlier without this delivery limit; the broker will not enforce it unless a policy does', {
        queue: q,
        deliveryLimit: limit,
        deadLetterQueue: dlq,
        hint: 'docs/operations.md, "Upgrading a broker that ran an earlier version": apply the policy shown there (or delete the queue while it is empty)',
      });
    }
    for (const b of bindings) await d.bind(q, this.exchange, b);
    const others: Array<[string, Record<string, unknown>]> = [
      [dlq, { 'x-queue-type': 'quorum' }],
      ...this.tiers.map((tier): [string, Record<string, unknown>] => [
        this.tierQueue(queue, tier),
        { 'x-queue-type': 'classic', 'x-message-ttl': tier, 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': q },
      ]),
    ];
    for (const [name, args] of others) {
      if (await d.queue(name, args))
        this.warnOnce(`queue:${name}`, 'queue exists with other arguments than this transport declares; kept as it is', { queue: name, arguments: args });
    }
  }

  private warnOnce(key: string, message: string, meta: Record<string, unknown>): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.options.logger.warn(message, meta);
  }
}

/**
 * Declarations on a channel of their own: a declaration the broker refuses closes its channel,
 * which must be neither the publish channel (that would drop the connection) nor a consumer's.
 */
class Declarations {
  private ch?: amqp.Channel;

  constructor(private readonly model: amqp.ChannelModel) {}

  async run(work: (d: Declarations) => Promise<void>): Promise<void> {
    try {
      await work(this);
    } finally {
      await this.ch?.close().catch(() => undefined);
    }
  }

  async exchange(name: string): Promise<void> {
    await (await this.channel()).assertExchange(name, 'topic', { durable: true });
  }

  async bind(queue: string, exchange: string, routingKey: string): Promise<void> {
    await (await this.channel()).bindQueue(queue, exchange, routingKey);
  }

  /** Declares the queue; true if it already existed with other arguments, and is kept as it is. */
  async queue(name: string, args: Record<string, unknown>): Promise<boolean> {
    try {
      await (await this.channel()).assertQueue(name, { durable: true, arguments: args });
      return false;
    } catch (error) {
      if ((error as { code?: unknown }).code !== 406) throw error;
      this.ch = undefined; // closed by the refusal
      await (await this.channel()).checkQueue(name);
      return true;
    }
  }

  private async channel(): Promise<amqp.Channel> {
    if (!this.ch) {
      const ch = await this.model.createChannel();
      // A refusal closes the channel; the failed call rejects with it, which is where it is handled.
      ch.on('error', () => undefined);
      ch.on('close', () => {
        if (this.ch === ch) this.ch = undefined;
      });
      this.ch = ch;
    }
    return this.ch;
  }
}
