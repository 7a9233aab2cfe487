import { METRIC_PREFIX, perRegistry } from '@app/platform';
import { Counter, Gauge, type Registry } from 'prom-client';
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
