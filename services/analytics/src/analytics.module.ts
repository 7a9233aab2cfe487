import { Module, type DynamicModule } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { DEAD_LETTER_SOURCE, DeadLettersController, InMemoryEventStream, LOGGER, serviceKit, SQL_DATABASE, type ServiceInfrastructure } from '@app/messaging';
import type { SqlDatabase } from '@app/persistence';
import type { Logger } from '@app/platform';
import { HealthController } from '@app/platform';
import { ARCHIVE_MANIFEST, InMemoryArchiveManifest, SqlArchiveManifest } from './archive/archive-manifest';
import { ArchivePipeline } from './archive/archive.pipeline';
import { ARCHIVE_STORE, InMemoryArchiveStore } from './archive/archive-store';
import { ArchiveVerifications } from './archive/archive-verifications';
import { ArchivesHttp } from './archive/archives.http';
import { ARCHIVE_TOPICS, RETRY_TOPIC } from './archive/archive.topics';
import { AzureBlobArchiveStore } from './archive/azure-blob.archive-store';
import { ANALYTICS_CONFIG, type AnalyticsConfig } from './config';
import { ParkedDeadLetters } from './dead-letters/parked-dead-letters';
import { AnalyticsTables1763769600004 } from './migrations/1763769600004-analytics-tables';
import { ArchiveManifest1764633600000 } from './migrations/1764633600000-archive-manifest';
import { ParkedDeadLetters1765065600000 } from './migrations/1765065600000-parked-dead-letters';
import { AnalyticsProjectionHandler, SERVICE } from './summary/analytics-projection.handlers';
import { EventCountEntity } from './summary/event-count.entity';
import { OrderFactEntity } from './summary/order-fact.entity';
import { SummaryHttp } from './summary/summary.http';

@Module({})
export class AnalyticsModule {
  /**
   * The only place that decides Analytics' adapters. Analytics reads the event stream (Kafka,
   * or the in-memory log), not the saga bus: it projects every event into the summary and
   * archives it to Azure Blob Storage (Azurite locally). It is not a saga participant.
   */
  static register(infrastructure: ServiceInfrastructure, config: AnalyticsConfig): DynamicModule {
    const archiveStore = !config.archive.enabled
      ? null
      : config.archive.store === 'memory'
        ? new InMemoryArchiveStore()
        : new AzureBlobArchiveStore(config.archive.connectionString!, config.archive.container);
    return {
      module: AnalyticsModule,
      imports: [TerminusModule],
      controllers: [SummaryHttp, ArchivesHttp, HealthController, DeadLettersController],
      providers: [
        ...serviceKit({
          service: SERVICE,
          infrastructure,
          adminToken: config.adminToken,
          entities: [OrderFactEntity, EventCountEntity],
          migrations: [AnalyticsTables1763769600004, ArchiveManifest1764633600000, ParkedDeadLetters1765065600000],
          streamRequired: true,
          ownDeadLetters: true,
        }),
        { provide: ANALYTICS_CONFIG, useValue: config },
        { provide: ARCHIVE_STORE, useValue: archiveStore },
        {
          // The records of the dead-letter topic, parked in Analytics' database (DeadLetterParking).
          provide: ParkedDeadLetters,
          useFactory: (db: SqlDatabase) => new ParkedDeadLetters(db, infrastructure.stream ?? null, RETRY_TOPIC),
          inject: [SQL_DATABASE],
        },
        { provide: DEAD_LETTER_SOURCE, useExisting: ParkedDeadLetters },
        {
          provide: ARCHIVE_MANIFEST,
          // The manifest lives as long as the log whose offsets it records: an in-process log
          // starts again at offset 0 on every start, while PGlite's files outlive it.
          useFactory: (db: SqlDatabase) => (infrastructure.stream instanceof InMemoryEventStream ? new InMemoryArchiveManifest() : new SqlArchiveManifest(db)),
          inject: [SQL_DATABASE],
        },
        {
          provide: ArchiveVerifications,
          useFactory: (logger: Logger) =>
            archiveStore && infrastructure.stream
              ? new ArchiveVerifications(
                  archiveStore,
                  infrastructure.stream,
                  config.archiveGroupId,
                  ARCHIVE_TOPICS,
                  logger.child({ component: 'archive-verify' }),
                )
              : null,
          inject: [LOGGER],
        },
        AnalyticsProjectionHandler,
        ArchivePipeline,
      ],
    };
  }
}
