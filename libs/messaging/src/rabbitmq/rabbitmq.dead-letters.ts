import type * as amqp from 'amqplib';
import { sleep } from '@app/platform';
import { replayHeaders } from '../headers';
import { MAX_DEAD_LETTER_POSITION, type DeadLetter, type DeadLetterPage } from '../transport';
import type { RabbitMqConnection } from './rabbitmq.connection';
import type { RabbitMqTopology } from './rabbitmq.topology';

/**
 * The dead-letter admin: list, replay and purge a consumer's `<q>.dlq`. A queue is read from
 * its head (got unacked, and requeued when the channel closes), so a listing reaches at most
 * MAX_DEAD_LETTER_POSITION messages. Every operation runs on a channel of its own: a refused
 * operation closes its channel, never the publish channel.
 */
export class RabbitMqDeadLetters {
  constructor(
    private readonly connection: RabbitMqConnection,
    private readonly topology: RabbitMqTopology,
  ) {}

  async list(queue: string, page: DeadLetterPage = { offset: 0, limit: MAX_DEAD_LETTER_POSITION }): Promise<DeadLetter[]> {
    const out: DeadLetter[] = [];
    let position = 0;
    await this.visit(
      queue,
      async (_m, d) => {
        if (position++ >= page.offset) out.push(d);
        return 'keep';
      },
      Math.min(MAX_DEAD_LETTER_POSITION, page.offset + page.limit),
    );
    return out;
  }

  /** The queue's message count (a passive declare: the queue is not touched). */
  count(queue: string): Promise<number> {
    return this.withChannel(async (ch) => (await ch.checkQueue(this.topology.deadLetterQueue(queue))).messageCount);
  }

  async replay(queue: string, id?: string): Promise<number> {
    return this.visit(queue, async (m, d) => {
      if (id !== undefined && d.id !== id) return 'keep';
      const { 'x-dead-letter-reason': _reason, ...headers } = replayHeaders({ ...d.headers });
      await this.connection.send('', this.topology.queueName(queue), m.content, {
        contentType: m.properties.contentType,
        messageId: m.properties.messageId,
        type: m.properties.type,
        appId: m.properties.appId,
        correlationId: m.properties.correlationId,
        headers,
      });
      return 'taken';
    });
  }

  async purge(queue: string, id?: string): Promise<number> {
    if (id === undefined) return this.withChannel(async (ch) => (await ch.purgeQueue(this.topology.deadLetterQueue(queue))).messageCount);
    return this.visit(queue, async (_m, d) => (d.id === id ? 'taken' : 'keep'));
  }

  /** Reads dead letters without removing them: got unacked, then requeued when the channel closes. */
  private async visit(queue: string, visit: (m: amqp.GetMessage, d: DeadLetter) => Promise<'keep' | 'taken'>, limit = 10_000): Promise<number> {
    const dlq = this.topology.deadLetterQueue(queue);
    let taken = 0;
    let kept = 0;
    await this.withChannel(async (ch) => {
      // Only what is there now: a replayed message that fails again must not be met twice.
      const { messageCount } = await ch.checkQueue(dlq);
      for (let i = 0; i < Math.min(limit, messageCount); i++) {
        const m = await ch.get(dlq, { noAck: false });
        if (!m) break;
        if ((await visit(m, toDeadLetter(queue, m))) === 'taken') {
          ch.ack(m);
          taken++;
        } else {
          kept++;
        }
      }
    });
    // Closing the channel requeues what we kept; a quorum queue does that asynchronously, so
    // wait until it is visible again before the next DLQ operation looks.
    if (kept > 0) {
      await this.withChannel(async (ch) => {
        const until = Date.now() + 3000;
        while (Date.now() < until && (await ch.checkQueue(dlq)).messageCount < kept) await sleep(20);
      });
    }
    return taken;
  }

  private async withChannel<T>(work: (ch: amqp.Channel) => Promise<T>): Promise<T> {
    const ch = await this.connection.current().createChannel();
    // A refused operation closes the channel and rejects the call, which is where it is reported.
    ch.on('error', () => undefined);
    try {
      return await work(ch);
    } finally {
      await ch.close().catch(() => undefined);
    }
  }
}

/**
 * A dead letter as the admin API shows it. Most were copied here by the transport, with the
 * failure in `x-*` headers; a message the broker moved here itself (over the queue's delivery
 * limit, when not even the transport's own check could run) carries only RabbitMQ's `x-death`.
 */
export function toDeadLetter(queue: string, m: amqp.GetMessage): DeadLetter {
  const h = (m.properties.headers ?? {}) as Record<string, unknown>;
  const num = (v: unknown) => (typeof v === 'number' ? v : Number(v) || 0);
  const death = h['x-dead-letter-id'] === undefined ? latestDeath(h) : undefined;
  if (death?.reason === 'delivery_limit') {
    const seconds = amqpTimestamp(death.time);
    const at = seconds === undefined ? '' : new Date(seconds * 1000).toISOString();
    const routingKeys = Array.isArray(death['routing-keys']) ? (death['routing-keys'] as unknown[]) : [];
    return {
      id: String(m.properties.messageId ?? ''),
      queue,
      routingKey: String(h['x-original-routing-key'] ?? routingKeys[0] ?? m.fields.routingKey),
      body: m.content.toString('utf8'),
      headers: h,
      failure: {
        error: `delivery limit: redelivered more often than the queue's x-delivery-limit without being settled (its consumer crashed or lost its connection each time); dead-lettered by RabbitMQ`,
        attempts: num(h['x-attempts']),
        deliveries: num(h['x-deliveries']),
        nonRetryable: true,
        firstFailedAt: String(h['x-first-failed-at'] ?? at),
        failedAt: at,
      },
      deadLetteredAt: at,
    };
  }
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

/** RabbitMQ's `x-death` lists the most recent dead-lettering first. */
function latestDeath(h: Record<string, unknown>): Record<string, unknown> | undefined {
  const deaths = h['x-death'];
  return Array.isArray(deaths) && typeof deaths[0] === 'object' && deaths[0] !== null ? (deaths[0] as Record<string, unknown>) : undefined;
}

/** An AMQP timestamp in seconds: amqplib decodes one in a header table as `{ '!': 'timestamp', value }`. */
function amqpTimestamp(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  const value = (v as { value?: unknown } | null)?.value;
  return typeof value === 'number' ? value : undefined;
}
