import { contracts } from '@app/contracts';
import { METRIC_PREFIX, perRegistry, secondsSince, withinScrape } from '@app/platform';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/**
 * How a consumer settled one delivery: `handled` (committed, then acked), `duplicate` (the inbox
 * had it: acked, nothing done), `retried` (a delayed retry scheduled), `dead-lettered`, or
 * `failed` (the consumer could not settle it at all, e.g. the ack or the retry could not be
 * sent: the broker delivers it again).
 */
export type MessageOutcome = 'handled' | 'duplicate' | 'retried' | 'dead-lettered' | 'failed';
export const messageOutcomes: readonly MessageOutcome[] = ['handled', 'duplicate', 'retried', 'dead-lettered', 'failed'];

/** The type label of a delivery that is no known message (unreadable, or of no contract). */
export const UNKNOWN_MESSAGE_TYPE = 'unknown';

const consumerFamilies = perRegistry((registry: Registry) => ({
  consumed: new Counter({
    name: `${METRIC_PREFIX}messages_consumed_total`,
    help: 'Deliveries a consumer settled, by message type and outcome (handled, duplicate, retried, dead-lettered, failed)',
    labelNames: ['message_type', 'outcome'] as const,
    registers: [registry],
  }),
  duration: new Histogram({
    name: `${METRIC_PREFIX}message_handling_duration_seconds`,
    help: "Time from a delivery's arrival to its settlement (handler transaction, immediate retries, ack), by message type",
    labelNames: ['message_type'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  }),
  criticalTime: new Histogram({
    name: `${METRIC_PREFIX}message_critical_time_seconds`,
    help: "Time from a message's occurredAt to its handling committing in this consumer, by message type",
    labelNames: ['message_type'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [registry],
  }),
  attempts: new Histogram({
    name: `${METRIC_PREFIX}message_delivery_attempts`,
    help: 'Handler attempts a message took until it was handled, found a duplicate or dead-lettered (immediate retries and redeliveries), by message type',
    labelNames: ['message_type'] as const,
    buckets: [1, 2, 3, 4, 5, 6, 8, 10, 15, 20],
    registers: [registry],
  }),
}));

/** One message type's series, bound once: recording a delivery is a field read and an increment. */
export class MessageTypeMetrics {
  private readonly outcomes: Record<MessageOutcome, Counter.Internal>;
  private readonly duration: Histogram.Internal<'message_type'>;
  private readonly criticalTime: Histogram.Internal<'message_type'>;
  private readonly attempts: Histogram.Internal<'message_type'>;

  constructor(families: ReturnType<typeof consumerFamilies>, type: string) {
    // Each outcome's series exists from the start (at 0), so a rate over it needs no first event.
    this.outcomes = Object.fromEntries(messageOutcomes.map((o) => [o, zeroed(families.consumed.labels(type, o))])) as Record<MessageOutcome, Counter.Internal>;
    this.duration = families.duration.labels(type);
    this.criticalTime = families.criticalTime.labels(type);
    this.attempts = families.attempts.labels(type);
  }

  /**
   * A delivery settled; `occurredAt` (the envelope's) is given for a handled one, for its
   * critical time, and `attempts` (all of them so far, across redeliveries) for one that ended.
   */
  settled(outcome: MessageOutcome, startedMs: number, occurredAt?: string, attempts?: number): void {
    this.outcomes[outcome].inc();
    this.duration.observe(secondsSince(startedMs));
    if (attempts !== undefined) this.attempts.observe(attempts);
    if (occurredAt === undefined) return;
    const critical = (Date.now() - Date.parse(occurredAt)) / 1000;
    if (Number.isFinite(critical)) this.criticalTime.observe(Math.max(0, critical));
  }
}

function zeroed(counter: Counter.Internal): Counter.Internal {
  counter.inc(0);
  return counter;
}

/**
 * A consumer's metrics. The type label only ever takes a contract's type (or `unknown`), so a
 * sender cannot grow the label set by making types up.
 */
export class ConsumerMetrics {
  private readonly byType = new Map<string, MessageTypeMetrics>();
  private readonly families: ReturnType<typeof consumerFamilies>;
  readonly unknown: MessageTypeMetrics;

  constructor(
    readonly registry: Registry,
    types: readonly string[] = [],
  ) {
    this.families = consumerFamilies(registry);
    this.unknown = new MessageTypeMetrics(this.families, UNKNOWN_MESSAGE_TYPE);
    for (const type of types) this.of(type);
  }

  of(type: string | undefined): MessageTypeMetrics {
    if (type === undefined) return this.unknown;
    let m = this.byType.get(type);
    if (!m) {
      if (!Object.hasOwn(contracts, type)) return this.unknown;
      this.byType.set(type, (m = new MessageTypeMetrics(this.families, type)));
    }
    return m;
  }
}

/** Where a service parks what it gave up on: a RabbitMQ dead-letter queue, or Kafka's dead-letter topic (Analytics). */
export type DeadLetterStore = 'bus' | 'stream';

/** Counts what is parked now; rejects when the broker cannot say. */
export type DeadLetterCount = () => Promise<number>;

/**
 * `saga_dead_letters_parked`: the messages a service has parked and nobody has replayed or
 * purged yet, asked of the broker at scrape time (a queue's message count; a topic's records).
 * A broker that cannot answer within the scrape's deadline leaves the sample out.
 */
export class DeadLetterMetrics {
  private readonly sources = new Map<DeadLetterStore, DeadLetterCount>();

  constructor(registry: Registry) {
    const sources = this.sources;
    new Gauge({
      name: `${METRIC_PREFIX}dead_letters_parked`,
      help: 'Messages parked in the dead-letter queue (bus) or topic (stream) now, read from the broker at scrape time',
      labelNames: ['store'] as const,
      registers: [registry],
      async collect() {
        this.reset();
        await Promise.all(
          [...sources].map(async ([store, count]) => {
            const n = await withinScrape(count);
            if (n !== undefined) this.set({ store }, n);
          }),
        );
      },
    });
  }

  /** The count this service answers for `store` while it runs; call the result to stop. */
  watch(store: DeadLetterStore, count: DeadLetterCount): () => void {
    this.sources.set(store, count);
    return () => {
      if (this.sources.get(store) === count) this.sources.delete(store);
    };
  }
}

export const deadLetterMetrics = perRegistry((registry: Registry) => new DeadLetterMetrics(registry));
