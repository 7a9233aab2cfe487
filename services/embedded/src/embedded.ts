import type { DynamicModule, INestApplication } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  consumerTuningFromEnv,
  duplicateDeliveryFromEnv,
  EVENT_TOPIC_PARTITIONS,
  eventTopics,
  InMemoryEventStream,
  InMemoryTransport,
  recoverabilityFromEnv,
  type ServiceInfrastructure,
} from '@app/messaging';
import { openPglite } from '@app/persistence';
import { boundPort, configureTracing, createLogger, shutdownTracing, startAzurite, startHttpService, startSmtpSink, type SmtpSink } from '@app/platform';
import { AnalyticsModule, loadAnalyticsConfig } from '../../analytics/src';
import { ConsoleModule, loadConsoleConfig } from '../../console/src';
import { InventoryModule, loadInventoryConfig } from '../../inventory/src';
import { loadOrderConfig, OrderModule } from '../../order/src';
import { loadPaymentConfig, PaymentModule } from '../../payment/src';
import { loadNotificationConfig, NotificationModule } from '../../notification/src';

export interface EmbeddedSystem {
  urls: { order: string; payment: string; inventory: string; analytics: string; notification: string; console: string };
  adminToken: string;
  transport: InMemoryTransport;
  stream: InMemoryEventStream;
  /** The archive's Azure Blob endpoint (Azurite in this process), for Azure Storage Explorer. */
  blobConnectionString: string;
  /** The mail server Notification sends to: an in-process SMTP sink that keeps what it received, unless SMTP_URL names one. */
  smtp?: SmtpSink;
  /** The one in-process PostgreSQL (a schema per service), for tools in this process (the benchmark). */
  pglite: Awaited<ReturnType<typeof openPglite>>;
  stop(): Promise<void>;
}

/**
 * The whole system in one process with no infrastructure: one in-process PostgreSQL (PGlite,
 * a schema per service), one in-memory bus standing in for RabbitMQ, one in-memory partitioned
 * log standing in for Kafka, and Azurite's blob service. Each service is still its own Nest
 * application on its own port, with its own outbox, inbox and queue.
 */
export async function startEmbedded(overrides: NodeJS.ProcessEnv = {}): Promise<EmbeddedSystem> {
  const env: NodeJS.ProcessEnv = { ...process.env, ...overrides };
  const logger = createLogger({ service: 'embedded' });
  const dataDir = env.PGLITE_DATA_DIR ?? '.data/pglite';
  const adminToken = env.ADMIN_TOKEN || localAdminToken(dataDir === 'memory' ? '.data' : join(dataDir, '..'), logger);
  const serviceEnv: NodeJS.ProcessEnv = { ...env, ADMIN_TOKEN: adminToken };
  if (configureTracing(env)) logger.info('exporting traces over OTLP', { endpoint: env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT });

  // Azurite in this process: the archive is written through the real Blob API. Its blobs live
  // as long as the process, like the in-memory event log they are cut from.
  const azurite = env.AZURE_STORAGE_CONNECTION_STRING ? undefined : await startEmbeddedAzurite(env.AZURITE_BLOB_PORT, logger);
  const blobConnectionString = env.AZURE_STORAGE_CONNECTION_STRING ?? azurite!.connectionString;
  serviceEnv.AZURE_STORAGE_CONNECTION_STRING = blobConnectionString;
  // A real SMTP server in this process (on a free port) for the customers' emails, unless SMTP_URL names one.
  const smtp = env.SMTP_URL ? undefined : await startSmtpSink();
  if (smtp) {
    serviceEnv.SMTP_URL = smtp.url;
    logger.info('customers’ emails go to an in-process SMTP sink; GET /api/notifications on Notification lists them', { smtp: smtp.url });
  }

  const pglite = await openPglite(dataDir === 'memory' ? undefined : join(dataDir, 'embedded'));
  const transport = new InMemoryTransport({ startHeld: true, duplicateDelivery: duplicateDeliveryFromEnv(serviceEnv) });
  const stream = new InMemoryEventStream();
  const recoverability = recoverabilityFromEnv(serviceEnv);
  const tuning = consumerTuningFromEnv(serviceEnv);
  const infra = (schema: string): ServiceInfrastructure => ({ transport, stream, recoverability, ...tuning, database: { kind: 'pglite', pglite, schema } });

  const apps: INestApplication[] = [];
  const closeAll = async () => {
    for (const app of apps) await app.close().catch((error: Error) => logger.warn('a service did not close cleanly', { error: error.message }));
    await transport.close();
    await stream.close();
    await azurite?.close();
    await smtp?.close();
    await pglite.close();
    await shutdownTracing();
  };
  const start = async (name: string, module: DynamicModule, config: { port: number; host: string; maxBodyBytes: number }) => {
    const app = await startHttpService({
      name,
      module,
      port: config.port,
      host: config.host,
      logger: createLogger({ service: name }),
      bodyLimit: `${config.maxBodyBytes}b`,
    });
    apps.push(app);
    return `http://${config.host}:${boundPort(app)}`;
  };
  try {
    await stream.ensureTopics(eventTopics.map((topic) => ({ topic, partitions: EVENT_TOPIC_PARTITIONS })));
    const order = loadOrderConfig(serviceEnv);
    const payment = loadPaymentConfig(serviceEnv);
    const inventory = loadInventoryConfig(serviceEnv);
    const analytics = loadAnalyticsConfig(serviceEnv);
    const notification = loadNotificationConfig(serviceEnv);
    const urls = {
      order: await start('order', OrderModule.register(infra('order'), order), order),
      payment: await start('payment', PaymentModule.register(infra('payment'), payment), payment),
      inventory: await start('inventory', InventoryModule.register(infra('inventory'), inventory), inventory),
      analytics: await start('analytics', AnalyticsModule.register(infra('analytics'), analytics), analytics),
      notification: await start('notification', NotificationModule.register(infra('notification'), notification), notification),
    };
    // Last: the operations console, over the services' own URLs.
    const consoleConfig = loadConsoleConfig({
      ...serviceEnv,
      ORDER_URL: urls.order,
      PAYMENT_URL: urls.payment,
      INVENTORY_URL: urls.inventory,
      ANALYTICS_URL: urls.analytics,
      NOTIFICATION_URL: urls.notification,
    });
    const allUrls = { ...urls, console: await start('console', ConsoleModule.register(consoleConfig), consoleConfig) };
    // Every queue is declared now: let messages flow.
    await transport.open();
    let stopped = false;
    return {
      urls: allUrls,
      adminToken,
      transport,
      stream,
      blobConnectionString,
      smtp,
      pglite,
      stop: async () => {
        if (stopped) return;
        stopped = true;
        // The bus is not durable: let what is in flight settle before the services close.
        // (What still remains is recovered by the outbox sweeper and the saga deadline.)
        if (!(await transport.drain(5000))) logger.warn('in-memory bus not drained within 5 s; the saga deadline recovers what is left');
        await closeAll();
      },
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}

/**
 * Without ADMIN_TOKEN in the environment, the embedded mode makes one for this machine and
 * keeps it in a file only the user can read; the log names the file, never the token.
 */
function localAdminToken(dir: string, logger: ReturnType<typeof createLogger>): string {
  const file = join(dir, 'admin-token');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(dir, { recursive: true });
  const token = randomBytes(24).toString('base64url');
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  logger.info('generated an admin token for this machine', { file });
  return token;
}

/**
 * Azurite's usual port is 10000. When it is taken (say, by `npm run infra:up`'s Azurite) and no
 * port was asked for, any free port will do; the log says which.
 */
async function startEmbeddedAzurite(requested: string | undefined, logger: ReturnType<typeof createLogger>) {
  if (requested !== undefined) return startAzurite({ port: Number(requested) });
  try {
    return await startAzurite({ port: 10000 });
  } catch (error) {
    if ((error as { code?: string }).code !== 'EADDRINUSE') throw error;
    const azurite = await startAzurite({ port: 0 });
    logger.warn('port 10000 is taken; the embedded Azurite listens elsewhere', { port: azurite.port });
    return azurite;
  }
}
