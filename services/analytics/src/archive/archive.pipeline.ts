import { Inject, Injectable } from '@nestjs/common';
import { deadLetterMetrics, EVENT_STREAM, EVENT_TOPIC_PARTITIONS, eventTopics, LOGGER, type EventStream } from '@app/messaging';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Link } from '@opentelemetry/api';
import type { Envelope } from '@app/contracts';
import { contextFrom, serviceRegistry, serviceTracer, tracingEnabled, type Logger } from '@app/platform';
import { ANALYTICS_CONFIG, type AnalyticsConfig } from '../config';
import { DeadLetterParking } from '../dead-letters/dead-letter-parking';
import { ParkedDeadLetters } from '../dead-letters/parked-dead-letters';
import { AnalyticsProjectionHandler, SERVICE } from '../summary/analytics-projection.handlers';
import { ARCHIVE_MANIFEST, type ArchiveManifest } from './archive-manifest';
import { ARCHIVE_STORE, type ArchiveStore } from './archive-store';
import { archiveMetrics, lagOf } from './archive.metrics';
import { DEAD_LETTER_TOPIC, RETRY_TOPIC } from './archive.topics';
import { Archiver } from './archiver';

/** A batch span links at most this many events' traces. */
const MAX_LINKS = 128;

/**
 * Starts the archiver with the application and stops it (flushing) before shutdown; and beside
 * it, in the background, the parking of the dead-letter topic.
 */
@Injectable()
export class ArchivePipeline {
  private archiver?: Archiver;
  private parking?: DeadLetterParking;
  private unwatch: Array<() => void> = [];

  constructor(
    @Inject(EVENT_STREAM) private readonly stream: EventStream | null,
    @Inject(ARCHIVE_STORE) private readonly store: ArchiveStore | null,
    @Inject(ARCHIVE_MANIFEST) private readonly manifest: ArchiveManifest,
    private readonly projection: AnalyticsProjectionHandler,
    private readonly parked: ParkedDeadLetters,
    @Inject(ANALYTICS_CONFIG) private readonly config: AnalyticsConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (!this.stream) {
      this.logger.warn('no event stream configured: analytics receives no events');
      return;
    }
    await this.stream.ensureTopics([
      ...eventTopics.map((topic) => ({ topic, partitions: EVENT_TOPIC_PARTITIONS })),
      { topic: RETRY_TOPIC, partitions: 1 },
      { topic: DEAD_LETTER_TOPIC, partitions: 1 },
    ]);
    // Not awaited: its group join must not hold up the HTTP port (see DeadLetterParking).
    this.parking = new DeadLetterParking(this.stream, this.parked, this.logger.child({ component: 'dead-letters' }), {
      groupId: `${this.config.archiveGroupId}.dead-letters`,
      topic: DEAD_LETTER_TOPIC,
    });
    this.parking.start();
    const registry = serviceRegistry(SERVICE);
    const metrics = archiveMetrics(registry);
    const stream = this.stream;
    this.archiver = new Archiver(
      this.stream,
      this.store && { store: this.store, manifest: this.manifest },
      (events) => this.projectTraced(events),
      this.logger.child({ component: 'archiver' }),
      {
        groupId: this.config.archiveGroupId,
        eventTopics,
        retryTopic: RETRY_TOPIC,
        deadLetterTopic: DEAD_LETTER_TOPIC,
        batchMaxEvents: this.config.archive.batchMaxEvents,
        batchMaxMs: this.config.archive.batchMaxMs,
        retryDelayMs: this.config.archive.retryDelayMs,
        killAfterUpload: this.config.archive.killAfterUpload,
        onStored: (events) => metrics.stored(events),
      },
    );
    await this.archiver.start();
    const archiver = this.archiver;
    const groupId = this.config.archiveGroupId;
    this.unwatch = [
      metrics.watch({
        commits: () => archiver.commits(),
        lag: async () => (await Promise.all(archiver.topics.map(async (t) => lagOf(t, await stream.watermarks(t), await stream.committed(groupId, t))))).flat(),
      }),
      // The dead letters an operator has not replayed or purged yet: the parked rows (a record
      // just dead-lettered counts once it is parked, a moment later), not the topic's records,
      // which stay until retention whatever is done with them.
      deadLetterMetrics(registry).watch('stream', () => this.parked.count()),
    ];
  }

  /**
   * One span per projected batch, linked to each event's own trace (OpenTelemetry's shape for a
   * batch: its events belong to many orders' traces, so it is the child of none).
   */
  private async projectTraced(events: Envelope[]): Promise<void> {
    if (!tracingEnabled()) return this.projection.projectAll(events);
    const links: Link[] = events.slice(0, MAX_LINKS).flatMap((e) => {
      const linked = e.traceparent ? trace.getSpanContext(contextFrom(e.traceparent, ROOT_CONTEXT)) : undefined;
      return linked ? [{ context: linked }] : [];
    });
    const span = serviceTracer(SERVICE).startSpan('process events', {
      kind: SpanKind.CONSUMER,
      links,
      attributes: { 'messaging.system': 'kafka', 'messaging.operation.type': 'process', 'messaging.batch.message_count': events.length },
    });
    try {
      await this.projection.projectAll(events);
    } catch (error) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: String(error) });
      throw error;
    } finally {
      span.end();
    }
  }

  async beforeApplicationShutdown(): Promise<void> {
    for (const stop of this.unwatch) stop();
    await this.parking?.stop();
    await this.archiver?.stop();
  }
}
