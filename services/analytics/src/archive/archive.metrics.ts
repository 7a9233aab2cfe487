import { METRIC_PREFIX, perRegistry, withinScrape } from '@app/platform';
import { Counter, Gauge, type Registry } from 'prom-client';

/** A partition this instance reads, and when it last committed an offset of it (ms since the epoch). */
export interface PartitionCommit {
  topic: string;
  partition: number;
  committedAtMs: number;
}

/** A partition's lag: records written to it that the group has not committed past. */
export interface PartitionLag {
  topic: string;
  partition: number;
  lag: number;
}

/** What the running archiver answers at scrape time. */
export interface ArchiveMetricsSource {
  commits(): PartitionCommit[];
  lag(): Promise<PartitionLag[]>;
}

/**
 * Analytics' own metrics: blobs and events archived (counted once a blob is marked stored),
 * per partition the seconds since this instance last committed an offset, and the consumer
 * group's lag read from Kafka at scrape time. Topic and partition labels come from the fixed
 * topics of the archive (3 event topics and the retry topic, 6 partitions at most each).
 */
export class ArchiveMetrics {
  private readonly blobs: Counter;
  private readonly events: Counter;
  private source?: ArchiveMetricsSource;

  constructor(registry: Registry) {
    this.blobs = new Counter({
      name: `${METRIC_PREFIX}archive_blobs_written_total`,
      help: 'Archive blobs uploaded and marked stored by this instance (a pending blob an earlier owner left counts when this one stores it)',
      registers: [registry],
    });
    this.events = new Counter({
      name: `${METRIC_PREFIX}archive_events_archived_total`,
      help: 'Events written as lines of the archive blobs this instance stored (an event the stream carried twice is one line)',
      registers: [registry],
    });
    this.blobs.inc(0);
    this.events.inc(0);
    const source = () => this.source;
    new Gauge({
      name: `${METRIC_PREFIX}archive_last_commit_age_seconds`,
      help: 'Seconds since this instance last committed an offset of a partition it reads (partitions it has committed at least once)',
      labelNames: ['topic', 'partition'] as const,
      registers: [registry],
      collect() {
        this.reset();
        const now = Date.now();
        for (const c of source()?.commits() ?? []) this.set({ topic: c.topic, partition: String(c.partition) }, Math.max(0, (now - c.committedAtMs) / 1000));
      },
    });
    new Gauge({
      name: `${METRIC_PREFIX}kafka_consumer_lag_messages`,
      help: "Records of a partition the archive's consumer group has not committed past, read from Kafka at scrape time",
      labelNames: ['topic', 'partition'] as const,
      registers: [registry],
      async collect() {
        this.reset();
        const s = source();
        if (!s) return;
        for (const l of (await withinScrape(() => s.lag())) ?? []) this.set({ topic: l.topic, partition: String(l.partition) }, l.lag);
      },
    });
  }

  /** A blob holding `events` lines was stored. */
  stored(events: number): void {
    this.blobs.inc();
    this.events.inc(events);
  }

  /** The archiver that answers the gauges while it runs; call the result to stop. */
  watch(source: ArchiveMetricsSource): () => void {
    this.source = source;
    return () => {
      if (this.source === source) this.source = undefined;
    };
  }
}

export const archiveMetrics = perRegistry((registry: Registry) => new ArchiveMetrics(registry));

/** Lag per partition from the topic's watermarks and the group's committed offsets (a partition never committed counts from its low watermark). */
export function lagOf(
  topic: string,
  marks: Array<{ partition: number; low: number; high: number }>,
  committed: Array<{ partition: number; offset: number }>,
): PartitionLag[] {
  const at = new Map(committed.map((c) => [c.partition, c.offset]));
  return marks.map((m) => ({ topic, partition: m.partition, lag: Math.max(0, m.high - Math.max(m.low, at.get(m.partition) ?? 0)) }));
}
