import type { Provider, Type } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { openDataSource, sqlDatabaseOf, type DatabaseConfig, type SqlDatabase } from '@app/persistence';
import { ADMIN_TOKEN, CLOCK, createLogger, Lifecycle, READINESS_PROBES, systemClock, type Clock, type Logger, type ReadinessProbe } from '@app/platform';
import { MessageBatcher } from '../batcher';
import { MessageConsumer } from '../consumer';
import { publishSagaStepFailed } from '../dead-letter-hook';
import type { BatchHandler } from '../handler';
import { OutboxDispatcher, defaultDispatcherOptions, type DispatchChannel } from '../outbox/outbox-dispatcher';
import { defaultRecoverability, type RecoverabilityOptions } from '../recoverability';
import { TRANSPORT, type Transport } from '../transport';
import { UnitOfWork } from '../unit-of-work';
import { MessagingTables1763769600000 } from '../messaging-tables.migration';
import { OutboxStreamChannel1763769600005 } from '../outbox-stream-channel.migration';
import { OutboxDispatch1764547200000 } from '../outbox-dispatch.migration';
import { EVENT_STREAM, type EventStream } from '../stream/stream';
import { DEAD_LETTER_SOURCE } from './dead-letters.http';
import { MessagingRuntime, MESSAGING_RUNTIME } from './messaging.runtime';
import { QueueDeadLetters } from './queue-dead-letters';

/** The adapters a service runs on; only a service's module (or a launcher) builds one. */
export interface ServiceInfrastructure {
  transport: Transport;
  /** The event stream (Kafka, or in-memory); when set, every outbox row is also streamed. */
  stream?: EventStream;
  database: DatabaseConfig;
  recoverability?: RecoverabilityOptions;
  clock?: Clock;
  runMigrations?: boolean;
  /** Deliveries a consumer may hold unacked (default 256). */
  prefetch?: number;
  /** Messages that may share one handler transaction (default 128; 1 = one each). */
  handlerBatch?: number;
  /** Handler transactions of one consumer at once (default 2). */
  handlerConcurrency?: number;
}

export const LOGGER = Symbol('LOGGER');
/** The service's SQL seam (libs/persistence/src/sql-database.ts) over its data source. */
export const SQL_DATABASE = Symbol('SQL_DATABASE');

/** Outbox and inbox tables, first in every service's migrations. */
export const messagingMigrations = [MessagingTables1763769600000, OutboxStreamChannel1763769600005, OutboxDispatch1764547200000];

export interface ServiceKitOptions {
  service: string;
  infrastructure: ServiceInfrastructure;
  adminToken: string;
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type -- TypeORM takes entity classes as Function
  entities: Function[];
  /** The service's own migrations; the outbox/inbox ones are added before them. */
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type -- TypeORM takes migration classes as Function
  migrations: Function[];
  /** The class holding the service's batch handler; it must be among the module's providers. */
  handlers?: Type<BatchHandler>;
  /** Publish SagaStepFailed when a message is dead-lettered (every saga participant does). */
  sagaDeadLetters?: boolean;
  /**
   * Readiness depends on the event stream. Only for a service that reads it (Analytics): the
   * others keep their stream rows in the outbox while Kafka is away and stay ready.
   */
  streamRequired?: boolean;
  /**
   * The service provides DEAD_LETTER_SOURCE itself (Analytics: the records it parked from its
   * Kafka dead-letter topic); otherwise the admin API lists the service's bus dead-letter queue.
   */
  ownDeadLetters?: boolean;
}

class DataSourceCloser {
  constructor(private readonly ds: DataSource) {}
  async onApplicationShutdown(): Promise<void> {
    if (this.ds.isInitialized) await this.ds.destroy();
  }
}

/**
 * The providers every service has: logger, data source (migrated) and its SQL seam, unit of
 * work, outbox dispatcher, consumer runtime, clock, admin token and readiness probes. A
 * service's module spreads these next to its own feature providers, and lists
 * HealthController and DeadLettersController.
 */
export function serviceKit(options: ServiceKitOptions): Provider[] {
  const { infrastructure: infra, service } = options;
  const recoverability = infra.recoverability ?? defaultRecoverability;
  return [
    { provide: LOGGER, useValue: createLogger({ service }) },
    { provide: TRANSPORT, useValue: infra.transport },
    { provide: CLOCK, useValue: infra.clock ?? systemClock },
    { provide: ADMIN_TOKEN, useValue: options.adminToken },
    ...(options.ownDeadLetters ? [] : [{ provide: DEAD_LETTER_SOURCE, useValue: new QueueDeadLetters(infra.transport, service) }]),
    Lifecycle,
    {
      provide: DataSource,
      useFactory: () =>
        openDataSource({
          database: infra.database,
          entities: options.entities,
          migrations: [...messagingMigrations, ...options.migrations.filter((m) => !messagingMigrations.includes(m as never))],
          runMigrations: infra.runMigrations ?? true,
          applicationName: service,
          onRetry: (error, delayMs) =>
            createLogger({ service }).warn('database not reachable yet; retrying', { component: 'database', error: String(error), delayMs }),
        }),
    },
    { provide: DataSourceCloser, useFactory: (ds: DataSource) => new DataSourceCloser(ds), inject: [DataSource] },
    { provide: SQL_DATABASE, useFactory: (ds: DataSource) => sqlDatabaseOf(ds), inject: [DataSource] },
    { provide: EVENT_STREAM, useValue: infra.stream ?? null },
    {
      provide: OutboxDispatcher,
      useFactory: (db: SqlDatabase, logger: Logger) => {
        const channels: DispatchChannel[] = [{ name: 'bus', publisher: infra.transport, pipeline: 64 }];
        if (infra.stream) channels.push({ name: 'stream', publisher: infra.stream, pipeline: 1, lingerMs: 5 });
        return new OutboxDispatcher(db, logger.child({ component: 'outbox' }), { service, ...defaultDispatcherOptions, channels });
      },
      inject: [SQL_DATABASE, LOGGER],
    },
    {
      provide: UnitOfWork,
      useFactory: (db: SqlDatabase, dispatcher: OutboxDispatcher) => new UnitOfWork(db, dispatcher, service),
      inject: [SQL_DATABASE, OutboxDispatcher],
    },
    {
      provide: READINESS_PROBES,
      useFactory: (ds: DataSource): ReadinessProbe[] => [
        { name: 'database', check: async () => void (await ds.query('SELECT 1')) },
        {
          name: 'transport',
          check: async () => {
            if (!infra.transport.isReady()) throw new Error('transport not connected');
          },
        },
        ...(infra.stream && options.streamRequired
          ? [
              {
                name: 'stream',
                check: async () => {
                  if (!infra.stream!.isReady()) throw new Error('event stream not connected');
                },
              },
            ]
          : []),
      ],
      inject: [DataSource],
    },
    {
      provide: MESSAGING_RUNTIME,
      useFactory: (dispatcher: OutboxDispatcher, logger: Logger, uow: UnitOfWork, handlers?: BatchHandler) => {
        const consumers: MessageConsumer[] = [];
        if (handlers) {
          const batcher = new MessageBatcher(uow, service, handlers, { maxBatch: infra.handlerBatch ?? 128, concurrency: infra.handlerConcurrency ?? 2 });
          consumers.push(
            new MessageConsumer(infra.transport, logger.child({ component: 'consumer' }), {
              service,
              queue: service,
              prefetch: infra.prefetch ?? 256,
              subscriptions: handlers.subscriptions,
              handle: (message, { retry }) => batcher.submit(message, { alone: retry }),
              recoverability,
              onDeadLetter: options.sagaDeadLetters ? publishSagaStepFailed(uow, service) : undefined,
            }),
          );
        }
        return new MessagingRuntime(dispatcher, consumers, logger);
      },
      inject: [OutboxDispatcher, LOGGER, UnitOfWork, ...(options.handlers ? [options.handlers] : [{ token: 'NO_HANDLERS', optional: true }])],
    },
  ];
}
