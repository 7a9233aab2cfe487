import { z } from 'zod';
import { databaseFromUrl, openPglite, type DatabaseConfig } from '@app/persistence';
import { int, loadConfig } from '@app/platform';
import { sagaTopology } from '@app/contracts';
import type { DynamicModule } from '@nestjs/common';
import { closeOnSignals, configureTracing, createLogger, shutdownTracing, startHttpService } from '@app/platform';
import { InMemoryTransport } from '../memory/in-memory.transport';
import { RabbitMqTransport } from '../rabbitmq/rabbitmq.transport';
import { InMemoryEventStream } from '../stream/in-memory.stream';
import { NamespacedEventStream } from '../stream/namespaced.stream';
import { EVENT_TOPIC_PARTITIONS, eventTopics, type EventStream } from '../stream/stream';
import type { RecoverabilityOptions } from '../recoverability';
import type { Transport } from '../transport';
import type { ServiceInfrastructure } from './service-kit';

const infraShape = {
  /** `postgres://…` or `mssql://user:password@host:1433/db` for a real server; unset = in-process PGlite. */
  DATABASE_URL: z
    .string()
    .url()
    .refine((u) => /^(postgres|postgresql|mssql|sqlserver):/.test(u), 'postgres://… or mssql://…')
    .optional(),
  DATABASE_SCHEMA: z
    .string()
    .regex(/^[a-z_][a-z0-9_]*$/)
    .optional(),
  /** Where the in-process PGlite keeps its files; `memory` keeps nothing. */
  PGLITE_DATA_DIR: z.string().default('.data/pglite'),
  /** `memory`: a private in-process bus (a lone service talks to no one); `rabbitmq`: the broker. */
  TRANSPORT: z.enum(['memory', 'rabbitmq']).default('memory'),
  RABBITMQ_URL: z.string().url().default('amqp://guest:guest@127.0.0.1:5672'),
  /**
   * Deliveries of a message without a settlement (its consumer crashed, or lost its connection,
   * each time) before it is dead-lettered instead: the quorum queues' `x-delivery-limit`.
   */
  RABBITMQ_DELIVERY_LIMIT: int(20, 1),
  /** Prefix for the exchange and queue names (keeps test systems apart on one broker). */
  MESSAGING_NAMESPACE: z
    .string()
    .regex(/^[a-z0-9.-]*$/)
    .default(''),
  TRANSPORT_DUPLICATE_DELIVERY: z.enum(['true', 'false', '1', '0', '']).default('false'),
  /** `kafka`: the event stream on Kafka; `memory`: a private in-process log. */
  STREAM: z.enum(['memory', 'kafka']).default('memory'),
  KAFKA_BROKERS: z.string().default('127.0.0.1:9092'),
  /**
   * How long a silent Analytics consumer keeps its partitions. A member that died without
   * leaving (SIGKILL, or a broker restart it crashed on) holds up every rejoin of its group
   * this long: 10 s (Kafka's own default before 3.0) rather than kafkajs' 30 s.
   */
  KAFKA_SESSION_TIMEOUT_MS: int(10_000),
  /** Deliveries a consumer holds unacked, and how many of them may share a transaction. */
  CONSUMER_PREFETCH: int(128),
  HANDLER_BATCH_MAX: int(64),
  RETRY_IMMEDIATE: int(2),
  RETRY_DELAYED: int(3),
  RETRY_BASE_DELAY_MS: int(1000),
  RETRY_MAX_DELAY_MS: int(60_000),
};

/** Consumer prefetch and handler batch size from the environment. */
export function consumerTuningFromEnv(env: NodeJS.ProcessEnv = process.env): { prefetch: number; handlerBatch: number } {
  const c = loadConfig(infraShape, env);
  return { prefetch: Math.max(1, c.CONSUMER_PREFETCH), handlerBatch: Math.max(1, c.HANDLER_BATCH_MAX) };
}

/** TRANSPORT_DUPLICATE_DELIVERY: every message on the bus twice, to prove the inboxes. */
export function duplicateDeliveryFromEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  return ['true', '1'].includes(loadConfig(infraShape, env).TRANSPORT_DUPLICATE_DELIVERY);
}

export function recoverabilityFromEnv(env: NodeJS.ProcessEnv = process.env): RecoverabilityOptions {
  const c = loadConfig(infraShape, env);
  return {
    immediateRetries: c.RETRY_IMMEDIATE,
    delayedRetries: c.RETRY_DELAYED,
    baseDelayMs: c.RETRY_BASE_DELAY_MS,
    maxDelayMs: c.RETRY_MAX_DELAY_MS,
    jitter: 0.2,
  };
}

/**
 * Infrastructure for one service started on its own, from the environment. (The embedded
 * launcher instead shares one PGlite and one in-memory bus between the four services.)
 */
export async function standaloneInfrastructure(
  service: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ServiceInfrastructure & { close(): Promise<void> }> {
  const c = loadConfig(infraShape, env);
  let database: DatabaseConfig;
  let closeDb = async () => {};
  if (c.DATABASE_URL) {
    database = databaseFromUrl(c.DATABASE_URL, c.DATABASE_SCHEMA);
  } else {
    const pglite = await openPglite(c.PGLITE_DATA_DIR === 'memory' ? undefined : `${c.PGLITE_DATA_DIR}/${service}`);
    database = { kind: 'pglite', pglite, schema: c.DATABASE_SCHEMA ?? service };
    closeDb = () => pglite.close();
  }
  const duplicates = duplicateDeliveryFromEnv(env);
  let transport: Transport;
  if (c.TRANSPORT === 'rabbitmq') {
    const rabbit = new RabbitMqTransport({
      url: c.RABBITMQ_URL,
      namespace: c.MESSAGING_NAMESPACE,
      service,
      topology: sagaTopology,
      deliveryLimit: c.RABBITMQ_DELIVERY_LIMIT,
      // The delay tiers are cut from the policy the consumers retry with.
      retryDelays: recoverabilityFromEnv(env),
      duplicatePublish: duplicates,
      logger: createLogger({ service }).child({ component: 'rabbitmq' }),
    });
    await rabbit.connect();
    transport = rabbit;
  } else {
    transport = new InMemoryTransport({ duplicateDelivery: duplicates });
  }
  let stream: EventStream;
  if (c.STREAM === 'kafka') {
    const { KafkaEventStream } = await import('../kafka/kafka.stream');
    const kafka = new KafkaEventStream({
      brokers: c.KAFKA_BROKERS.split(',')
        .map((b) => b.trim())
        .filter(Boolean),
      clientId: service,
      sessionTimeoutMs: c.KAFKA_SESSION_TIMEOUT_MS,
      logger: createLogger({ service }).child({ component: 'kafka' }),
    });
    await kafka.connect();
    stream = c.MESSAGING_NAMESPACE ? new NamespacedEventStream(kafka, c.MESSAGING_NAMESPACE) : kafka;
  } else {
    stream = new InMemoryEventStream();
  }
  // The project creates its topics (no auto-create); every service makes sure they exist.
  await stream.ensureTopics(eventTopics.map((topic) => ({ topic, partitions: EVENT_TOPIC_PARTITIONS })));
  return {
    transport,
    stream,
    database,
    recoverability: recoverabilityFromEnv(env),
    ...consumerTuningFromEnv(env),
    close: async () => {
      await transport.close();
      await stream.close();
      await closeDb();
    },
  };
}

/**
 * `npm run start:<service>`: one service on its own, on the infrastructure the environment
 * names; SIGTERM closes the app (graceful shutdown) and then the connections.
 */
export function runStandalone<C extends { port: number; host: string; maxBodyBytes: number }>(
  service: string,
  loadConfig: () => C,
  register: (infrastructure: ServiceInfrastructure, config: C) => DynamicModule,
): void {
  const main = async () => {
    const config = loadConfig();
    if (configureTracing()) createLogger({ service }).info('exporting traces over OTLP');
    const infrastructure = await standaloneInfrastructure(service);
    const app = await startHttpService({
      name: service,
      module: register(infrastructure, config),
      port: config.port,
      host: config.host,
      logger: createLogger({ service }),
      bodyLimit: `${config.maxBodyBytes}b`,
    });
    closeOnSignals([app], async () => {
      await infrastructure.close();
      await shutdownTracing();
    });
  };
  main().catch((error) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
