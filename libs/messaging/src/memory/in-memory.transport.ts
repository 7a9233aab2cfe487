import { randomUUID } from 'node:crypto';
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
import { topicMatches } from '../topic';
import { failureHeaders, replayHeaders } from '../headers';
import { sleep } from '@app/platform';

export interface InMemoryTransportOptions {
  /**
   * Deliver every published message twice. At-least-once delivery taken to its limit: the
   * embedded mode can run this way to prove that every consumer's inbox holds.
   */
  duplicateDelivery?: boolean;
  /**
   * Hold published messages until `open()`. A launcher that starts several services on one
   * bus opens it once every service has declared its queue, so nothing is routed to nowhere.
   */
  startHeld?: boolean;
}

interface Pending {
  body: string;
  routingKey: string;
  headers: Record<string, unknown>;
  deliveryCount: number;
}

interface QueueState {
  name: string;
  bindings: string[];
  ready: Pending[];
  deadLetters: DeadLetter[];
  consumer?: { onDelivery: (d: InboundDelivery) => Promise<void>; prefetch: number; inFlight: number; closing: boolean; idle: Array<() => void> };
}

/**
 * RabbitMQ's semantics in one process, for the embedded mode and unit tests: a topic
 * exchange, one FIFO queue per consumer, a prefetch window, delayed redelivery and a
 * dead-letter queue per consumer. Not durable: a process crash loses what is in flight here,
 * which the outbox (sends) and the saga deadline (stuck orders) make up for.
 */
const IN_MEMORY_BUS = { system: 'memory', name: 'saga.events' };

export class InMemoryTransport implements Transport {
  private readonly queues = new Map<string, QueueState>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;
  private held: OutgoingMessage[] | null;
  /** What went through the bus (for the benchmark): messages published, and copies queued for consumers. */
  readonly stats = { published: 0, queued: 0 };

  constructor(private readonly options: InMemoryTransportOptions = {}) {
    this.held = options.startHeld ? [] : null;
  }

  /** Route what was published while held, and everything from now on. */
  async open(): Promise<void> {
    const held = this.held;
    this.held = null;
    if (held?.length) await this.publish(held);
  }

  isReady(): boolean {
    return !this.closed;
  }

  /** Queues exist from their first declaration on, consumer or not, like durable queues. */
  declareQueue(name: string, bindings: string[]): void {
    const q = this.queues.get(name);
    if (q) {
      for (const b of bindings) if (!q.bindings.includes(b)) q.bindings.push(b);
    } else {
      this.queues.set(name, { name, bindings: [...bindings], ready: [], deadLetters: [] });
    }
  }

  destinationOf(): { system: string; name: string } {
    return IN_MEMORY_BUS;
  }

  async publish(messages: readonly OutgoingMessage[]): Promise<void> {
    if (this.closed) throw new Error('transport is closed');
    if (this.held) {
      this.held.push(...messages);
      return;
    }
    const copies = this.options.duplicateDelivery ? 2 : 1;
    this.stats.published += messages.length;
    for (const m of messages) {
      const body = m.body ?? JSON.stringify(m.envelope);
      const headers = { 'message-id': m.envelope.messageId, 'message-type': m.envelope.type };
      for (const q of this.queues.values()) {
        if (!q.bindings.some((b) => topicMatches(b, m.routingKey))) continue;
        for (let i = 0; i < copies; i++) q.ready.push({ body, routingKey: m.routingKey, headers: { ...headers }, deliveryCount: 1 });
        this.stats.queued += copies;
        this.schedulePump(q);
      }
    }
  }

  async subscribe(spec: ConsumerSpec, onDelivery: (d: InboundDelivery) => Promise<void>): Promise<TransportSubscription> {
    this.declareQueue(spec.queue, spec.bindings);
    const q = this.queues.get(spec.queue)!;
    if (q.consumer && !q.consumer.closing) throw new Error(`queue ${spec.queue} already has a consumer`);
    const consumer = { onDelivery, prefetch: Math.max(1, spec.prefetch), inFlight: 0, closing: false, idle: [] as Array<() => void> };
    q.consumer = consumer;
    this.schedulePump(q);
    return {
      close: async () => {
        consumer.closing = true;
        if (consumer.inFlight > 0) await new Promise<void>((r) => consumer.idle.push(r));
        if (q.consumer === consumer) q.consumer = undefined;
      },
    };
  }

  async deadLetterCount(queue: string): Promise<number> {
    return this.queues.get(queue)?.deadLetters.length ?? 0;
  }

  async deadLetters(queue: string, page: DeadLetterPage = { offset: 0, limit: MAX_DEAD_LETTER_POSITION }): Promise<DeadLetter[]> {
    return (this.queues.get(queue)?.deadLetters ?? []).slice(page.offset, page.offset + page.limit);
  }

  async replayDeadLetters(queue: string, id?: string): Promise<number> {
    const q = this.queues.get(queue);
    if (!q) return 0;
    const chosen = q.deadLetters.filter((d) => id === undefined || d.id === id);
    q.deadLetters = q.deadLetters.filter((d) => !chosen.includes(d));
    for (const d of chosen) {
      q.ready.push({ body: d.body, routingKey: d.routingKey, deliveryCount: 1, headers: replayHeaders(d.headers) });
    }
    if (chosen.length) this.schedulePump(q);
    return chosen.length;
  }

  async purgeDeadLetters(queue: string, id?: string): Promise<number> {
    const q = this.queues.get(queue);
    if (!q) return 0;
    const before = q.deadLetters.length;
    q.deadLetters = q.deadLetters.filter((d) => id !== undefined && d.id !== id);
    return before - q.deadLetters.length;
  }

  /** Messages waiting (not in flight, not delayed) in a queue; for tests and diagnostics. */
  depth(queue: string): number {
    return this.queues.get(queue)?.ready.length ?? 0;
  }

  /**
   * Resolves once no queue holds a ready or in-flight message (delayed retries aside), or after
   * `timeoutMs`. A graceful stop of the embedded mode drains the bus before closing services.
   */
  async drain(timeoutMs: number): Promise<boolean> {
    const end = Date.now() + timeoutMs;
    const busy = () => [...this.queues.values()].some((q) => q.consumer && (q.ready.length > 0 || q.consumer.inFlight > 0));
    while (busy()) {
      if (Date.now() > end) return false;
      await sleep(10);
    }
    return true;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  private schedulePump(q: QueueState): void {
    setImmediate(() => this.pump(q));
  }

  private pump(q: QueueState): void {
    const c = q.consumer;
    if (!c || c.closing || this.closed) return;
    while (c.inFlight < c.prefetch && q.ready.length > 0) {
      const msg = q.ready.shift()!;
      c.inFlight++;
      let settled = false;
      const settle = () => {
        if (settled) throw new Error('delivery already settled');
        settled = true;
      };
      const delivery: InboundDelivery = {
        body: msg.body,
        routingKey: msg.routingKey,
        headers: msg.headers,
        deliveryCount: msg.deliveryCount,
        ack: async () => settle(),
        retryLater: async (delayMs: number, failure: FailureInfo) => {
          settle();
          this.later(delayMs, () => {
            q.ready.push({ ...msg, deliveryCount: msg.deliveryCount + 1, headers: { ...msg.headers, ...failureHeaders(failure) } });
            this.pump(q);
          });
        },
        deadLetter: async (failure: FailureInfo) => {
          settle();
          q.deadLetters.push({
            id: randomUUID(),
            queue: q.name,
            routingKey: msg.routingKey,
            body: msg.body,
            headers: { ...msg.headers, ...failureHeaders(failure) },
            failure,
            deadLetteredAt: new Date().toISOString(),
          });
        },
      };
      c.onDelivery(delivery)
        .catch(() => {
          // A consumer that throws instead of settling: requeue, as a broker does on a lost channel.
          if (!settled) q.ready.unshift(msg);
          settled = true;
        })
        .finally(() => {
          if (!settled) q.ready.unshift(msg);
          c.inFlight--;
          if (c.closing && c.inFlight === 0) c.idle.splice(0).forEach((r) => r());
          this.pump(q);
        });
    }
  }

  private later(ms: number, fn: () => void): void {
    if (this.closed) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }
}
