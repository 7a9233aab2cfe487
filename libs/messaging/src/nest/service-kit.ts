import type { Provider, Type } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { openDataSource, type DatabaseConfig } from '@app/persistence';
import { ADMIN_TOKEN, CLOCK, createLogger, Lifecycle, READINESS_PROBES, systemClock, type Clock, type Logger, type ReadinessProbe } from '@app/platform';
import { MessageConsumer, type HandlerRegistration } from '../consumer';
import { publishSagaStepFailed } from '../dead-letter-hook';
import { OutboxRelay, defaultRelayOptions } from '../outbox/outbox-relay';
import { defaultRecoverability, type RecoverabilityOptions } from '../recoverability';
import { TRANSPORT, type Transport } from '../transport';
import { UnitOfWork } from '../unit-of-work';
import { MessagingTables1763769600000 } from '../messaging-tables.migration';
import { OutboxStreamChannel1763769600005 } from '../outbox-stream-channel.migration';
import { EVENT_STREAM, type EventStream } from '../stream/stream';
import { DEAD_LETTER_QUEUE } from './dead-letters.http';
import { MessagingRuntime, MESSAGING_RUNTIME } from './messaging.runtime';

/** The adapters a service runs on; only a service's module (or a launcher) builds one. */
export interface ServiceInfrastructure {
  transport: Transport;
  /** The event stream (Kafka, or in-memory); when set, every outbox row is also streamed. */
  stream?: EventStream;
  database: DatabaseConfig;
  recoverability?: RecoverabilityOptions;
  clock?: Clock;
  runMigrations?: boolean;
  /** Deliveries a consumer may hold unacked (default 128). */
  prefetch?: number;
  /** Messages that may share one handler transaction (default 64; 1 = one each). */
  handlerBatch?: number;
}

/** A service's message handlers, as the consumer pipeline needs them. */
export interface MessageHandlers {
  registrations(): HandlerRegistration[];
}

export const LOGGER = Symbol('LOGGER');
export const STREAM_RELAY = Symbol('STREAM_RELAY');

/** Outbox and inbox tables, first in every service's migrations. */
export const messagingMigrations = [MessagingTables1763769600000, OutboxStreamChannel1763769600005];

export interface ServiceKitOptions {
  service: string;
  infrastructure: ServiceInfrastructure;
  adminToken: string;
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type -- TypeORM takes entity classes as Function
  entities: Function[];
  /** The service's own migrations; the outbox/inbox ones are added before them. */
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type -- TypeORM takes migration classes as Function
  migrations: Function[];
  /** The class holding the service's handlers; it must be among the module's providers. */
  handlers?: Type<MessageHandlers>;
  /** Receive every event (binding `#`) instead of the handlers' bindings. */
  catchAll?: Type<{ handleAny(message: never): Promise<void> }>;
  prefetch?: number;
  /** Publish SagaStepFailed when a message is dead-lettered (every saga participant does). */
  sagaDeadLetters?: boolean;
  /**
   * Readiness depends on the event stream. Only for a service that reads it (Analytics): the
   * others keep their stream rows in the outbox while Kafka is away and stay ready.
   */
  streamRequired?: boolean;
}

class DataSourceCloser {
  constructor(private readonly ds: DataSource) {}
  async onApplicationShutdown(): Promise<void> {
    if (this.ds.isInitialized) await this.ds.destroy();
  }
}

/**
 * The providers every service has: logger, data source (migrated), unit of work, outbox relay,
 * consumer runtime, clock, admin token and readiness probes. A service's module spreads these
 * next to its own feature providers, and lists HealthController and DeadLettersController.
 */
export function serviceKit(options: ServiceKitOptions): Provider[] {
  const { infrastructure: infra, service } = options;
  const recoverability = infra.recoverability ?? defaultRecoverability;
  return [
    { provide: LOGGER, useValue: createLogger({ service }) },
    { provide: TRANSPORT, useValue: infra.transport },
    { provide: CLOCK, useValue: infra.clock ?? systemClock },
    { provide: ADMIN_TOKEN, useValue: options.adminToken },
    { provide: DEAD_LETTER_QUEUE, useValue: service },
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
        }),
    },
    { provide: DataSourceCloser, useFactory: (ds: DataSource) => new DataSourceCloser(ds), inject: [DataSource] },
    { provide: EVENT_STREAM, useValue: infra.stream ?? null },
    {
      provide: OutboxRelay,
      useFactory: (ds: DataSource, logger: Logger) =>
        new OutboxRelay(ds, infra.transport, logger.child({ component: 'outbox-relay' }), {
          service,
          ...defaultRelayOptions,
          channel: 'bus',
          cleanupChannels: infra.stream ? ['bus', 'stream'] : ['bus'],
        }),
      inject: [DataSource, LOGGER],
    },
    {
      provide: STREAM_RELAY,
      useFactory: (ds: DataSource, logger: Logger) =>
        infra.stream
          ? new OutboxRelay(ds, infra.stream, logger.child({ component: 'outbox-stream-relay' }), { service, ...defaultRelayOptions, channel: 'stream' })
          : null,
      inject: [DataSource, LOGGER],
    },
    {
      provide: UnitOfWork,
      useFactory: (ds: DataSource, bus: OutboxRelay, stream: OutboxRelay | null) =>
        new UnitOfWork(
          ds,
          {
            wake: () => {
              bus.wake();
              stream?.wake();
            },
          },
          { maxBatch: infra.handlerBatch ?? 64 },
        ),
      inject: [DataSource, OutboxRelay, STREAM_RELAY],
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
      useFactory: (
        relay: OutboxRelay,
        streamRelay: OutboxRelay | null,
        logger: Logger,
        uow: UnitOfWork,
        handlers?: MessageHandlers,
        catchAll?: { handleAny(m: never): Promise<void> },
      ) => {
        const consumers: MessageConsumer[] = [];
        if (handlers || catchAll) {
          consumers.push(
            new MessageConsumer(infra.transport, logger.child({ component: 'consumer' }), {
              service,
              queue: service,
              prefetch: options.prefetch ?? infra.prefetch ?? 128,
              handlers: handlers?.registrations() ?? [],
              catchAll: catchAll ? (m) => catchAll.handleAny(m as never) : undefined,
              recoverability,
              onDeadLetter: options.sagaDeadLetters ? publishSagaStepFailed(uow, service) : undefined,
            }),
          );
        }
        return new MessagingRuntime(streamRelay ? [relay, streamRelay] : [relay], consumers, logger);
      },
      inject: [
        OutboxRelay,
        STREAM_RELAY,
        LOGGER,
        UnitOfWork,
        ...(options.handlers ? [options.handlers] : [{ token: 'NO_HANDLERS', optional: true }]),
        ...(options.catchAll ? [options.catchAll] : []),
      ],
    },
  ];
}
