import { METRIC_PREFIX, perRegistry, secondsSince } from '@app/platform';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { OutboxChannel } from './outbox.sql';

/** One channel's backlog: rows it has not sent, and how long the oldest of them has waited. */
export interface ChannelBacklog {
  pending: number;
  oldestAgeSeconds: number;
}

/** Reads the backlog at scrape time (one statement); undefined when it could not be read. */
export type BacklogSource = () => Promise<Partial<Record<OutboxChannel, ChannelBacklog>> | undefined>;

const channels: readonly OutboxChannel[] = ['bus', 'stream'];
type PerChannel = Record<OutboxChannel, Counter.Internal>;

/**
 * The outbox's metrics. The counters are bumped per publish (a batch of rows), never per row;
 * the backlog gauges are read from the table when scraped, once per scrape for both gauges.
 */
export class OutboxMetrics {
  readonly sent: PerChannel;
  readonly failedPublishes: PerChannel;
  readonly swept: PerChannel;
  readonly deleted: Counter;
  private readonly publishDuration: Record<OutboxChannel, Histogram.Internal<'channel'>>;
  private readonly batchSize: Record<OutboxChannel, Histogram.Internal<'channel'>>;
  readonly pending: Gauge<'channel'>;
  readonly oldestAge: Gauge<'channel'>;
  private readonly sources = new Set<BacklogSource>();
  private reading?: Promise<Partial<Record<OutboxChannel, ChannelBacklog>> | undefined>;

  constructor(registry: Registry) {
    const counter = (name: string, help: string) => {
      const c = new Counter({ name: `${METRIC_PREFIX}outbox_${name}_total`, help, labelNames: ['channel'] as const, registers: [registry] });
      // Both channels' series exist from the start (at 0), so a rate over them needs no first event.
      return Object.fromEntries(
        channels.map((ch) => {
          const child = c.labels(ch);
          child.inc(0);
          return [ch, child];
        }),
      ) as PerChannel;
    };
    this.sent = counter('sent', 'Outbox rows published on a channel as they committed (the live path)');
    this.failedPublishes = counter('publish_failures', 'Publishes on a channel that failed (the channel then recovers through the sweeper)');
    this.swept = counter('swept', 'Outbox rows the sweeper re-sent on a channel (a crash or an outage left them unsent)');
    this.deleted = new Counter({
      name: `${METRIC_PREFIX}outbox_deleted_total`,
      help: 'Outbox rows deleted once every channel had them',
      registers: [registry],
    });
    this.deleted.inc(0);
    const histogram = (name: string, help: string, buckets: number[]) => {
      const h = new Histogram({ name: `${METRIC_PREFIX}outbox_${name}`, help, labelNames: ['channel'] as const, buckets, registers: [registry] });
      return Object.fromEntries(channels.map((ch) => [ch, h.labels(ch)])) as Record<OutboxChannel, Histogram.Internal<'channel'>>;
    };
    this.publishDuration = histogram(
      'publish_duration_seconds',
      "Time one publish took on a channel, from handing the batch to the broker client to the broker's confirm (or the failure), live and sweeper alike",
      [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    );
    this.batchSize = histogram('publish_batch_size', 'Rows in one publish on a channel, live and sweeper alike', [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]);
    const backlog = () => this.backlog();
    this.pending = new Gauge({
      name: `${METRIC_PREFIX}outbox_pending_messages`,
      help: 'Outbox rows a channel has not sent yet, read from the table at scrape time',
      labelNames: ['channel'] as const,
      registers: [registry],
      async collect() {
        this.reset();
        const b = await backlog();
        for (const ch of channels) if (b?.[ch]) this.set({ channel: ch }, b[ch].pending);
      },
    });
    this.oldestAge = new Gauge({
      name: `${METRIC_PREFIX}outbox_oldest_pending_age_seconds`,
      help: 'Age of the oldest outbox row a channel has not sent yet (0 when none), read at scrape time',
      labelNames: ['channel'] as const,
      registers: [registry],
      async collect() {
        this.reset();
        const b = await backlog();
        for (const ch of channels) if (b?.[ch]) this.set({ channel: ch }, b[ch].oldestAgeSeconds);
      },
    });
  }

  /** One publish of `rows` rows on `channel` ended (sent or failed); it began at `startedMs` (performance.now()). */
  published(channel: OutboxChannel, rows: number, startedMs: number): void {
    this.batchSize[channel].observe(rows);
    this.publishDuration[channel].observe(secondsSince(startedMs));
  }

  /** The dispatcher that answers the backlog gauges while it runs; call the result to stop. */
  watch(source: BacklogSource): () => void {
    this.sources.add(source);
    return () => void this.sources.delete(source);
  }

  /** Both gauges collect at once in a scrape: they share one read. The last dispatcher started answers. */
  private backlog() {
    const source = [...this.sources].pop();
    if (!source) return Promise.resolve(undefined);
    this.reading ??= source().finally(() => (this.reading = undefined));
    return this.reading;
  }
}

export const outboxMetrics = perRegistry((registry: Registry) => new OutboxMetrics(registry));
