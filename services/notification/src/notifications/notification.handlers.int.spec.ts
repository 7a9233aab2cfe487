import { createEnvelope, type OrderCancelled, type OrderConfirmed } from '@app/contracts';
import { decideRecovery, isUnavailable, MessageFailed, messagingMigrations, UnitOfWork, type Dispatch } from '@app/messaging';
import { openDataSource, sqlDatabaseOf, type SqlDatabase } from '@app/persistence';
import { createLogger, startSmtpSink, systemClock, type SmtpSink } from '@app/platform';
import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { failingOnce } from '../../../../test/support/failing-database';
import { createTestDatabase } from '../../../../test/support/postgres';
import { loadNotificationConfig } from '../config';
import { MailNotSent, SmtpMailer } from '../mail/mailer';
import { NotificationTables1765065600005 } from '../migrations/1765065600005-notification-tables';
import { NotificationHandlers } from './notification.handlers';
import { notificationMetrics } from './notification.metrics';
import { Registry } from 'prom-client';

const noDispatch: Dispatch = { dispatch: () => undefined };
const logger = createLogger({ service: 'notification-it' });
type NotificationMessage = Parameters<NotificationHandlers['handle']>[1][number];

const order = (email: string | null = 'alice@example.com') => ({
  orderId: randomUUID(),
  customerId: 'alice',
  total: 2500,
  currency: 'USD',
  placedAt: new Date().toISOString(),
  email,
  items: [{ sku: 'KB-001', quantity: 2, unitPrice: 1250, lineTotal: 2500 }],
});
const confirmed = (o = order()): NotificationMessage => ({
  ...createEnvelope<OrderConfirmed>({ type: 'OrderConfirmed', key: o.orderId, source: 'order', payload: o }),
  type: 'OrderConfirmed',
});
const cancelled = (o = order()): NotificationMessage => ({
  ...createEnvelope<OrderCancelled>({ type: 'OrderCancelled', key: o.orderId, source: 'order', payload: { ...o, reason: 'OUT_OF_STOCK' } }),
  type: 'OrderCancelled',
});
/** The same message again, as RabbitMQ redelivers it (same id) or as a replayed copy would be (a new id). */
const copy = (m: NotificationMessage, newId = false): NotificationMessage => ({ ...m, messageId: newId ? randomUUID() : m.messageId });

/**
 * Notification's handler in its unit of work on a real PostgreSQL, sending over real SMTP
 * (nodemailer) to a real SMTP server on loopback (smtp-server), as the service does.
 */
describe('Notification handler on PostgreSQL and SMTP', () => {
  let dbInfo: Awaited<ReturnType<typeof createTestDatabase>>;
  let ds: DataSource;
  let db: SqlDatabase;
  let sink: SmtpSink;
  let mailer: SmtpMailer;
  let handlers: NotificationHandlers;
  let uow: UnitOfWork;

  beforeAll(async () => {
    dbInfo = await createTestDatabase('saga_it_notification');
    ds = await openDataSource({
      database: { kind: 'postgres', url: dbInfo.url },
      entities: [],
      migrations: [...messagingMigrations, NotificationTables1765065600005],
    });
    db = sqlDatabaseOf(ds);
    sink = await startSmtpSink();
  });
  afterAll(async () => {
    mailer?.close();
    await sink?.close();
    await ds?.destroy();
    await dbInfo?.drop();
  });
  beforeEach(async () => {
    await ds.query('TRUNCATE notifications, inbox_messages, outbox_messages');
    sink.received.length = 0;
    sink.resume();
    const config = loadNotificationConfig({ ADMIN_TOKEN: 'x'.repeat(16), SMTP_URL: sink.url, SMTP_TIMEOUT_MS: '2000' });
    mailer?.close();
    mailer = new SmtpMailer(config.smtp);
    handlers = new NotificationHandlers(mailer, config, notificationMetrics(new Registry()), logger, systemClock);
    uow = new UnitOfWork(db, noDispatch);
  });

  const handle = (...batch: NotificationMessage[]) => uow.handleBatch('notification', batch, (tx, fresh) => handlers.handle(tx, fresh));
  const outcomes = (results: Awaited<ReturnType<typeof handle>>) => results.map((o) => (o instanceof MessageFailed ? 'failed' : o));
  const records = async () =>
    (await ds.query('SELECT order_id, outcome, status, attempts, last_error FROM notifications ORDER BY order_id, outcome')) as Array<{
      order_id: string;
      outcome: string;
      status: string;
      attempts: number;
      last_error: string | null;
    }>;
  const mailsFor = (orderId: string) => sink.received.filter((m) => m.messageId?.startsWith(`<${orderId}.`));

  it('sends one email per outcome, whatever is delivered twice, in one batch or in two, or replayed as a copy', async () => {
    const a = confirmed();
    const b = cancelled();
    expect(outcomes(await handle(a, copy(a), b))).toEqual(['handled', 'duplicate', 'handled']);
    expect(outcomes(await handle(copy(a), copy(b)))).toEqual(['duplicate', 'duplicate']);
    expect(outcomes(await handle(copy(a, true), copy(b, true)))).toEqual(['handled', 'handled']);
    expect(mailsFor(a.payload.orderId)).toHaveLength(1);
    expect(mailsFor(b.payload.orderId)).toHaveLength(1);
    expect(mailsFor(a.payload.orderId)[0]).toMatchObject({ to: ['alice@example.com'], messageId: `<${a.payload.orderId}.confirmed@example.com>` });
    expect((await records()).map((r) => [r.status, r.attempts])).toEqual([
      ['SENT', 1],
      ['SENT', 1],
    ]);
  });

  it('while the SMTP server refuses, fails the message alone with the error recorded; once it takes mail again, the retry sends it once', async () => {
    const ok = confirmed();
    const refused = confirmed();
    sink.refuse();
    // The sink refuses every mail; send the first alone once it takes them again.
    expect(outcomes(await handle(refused))).toEqual(['failed']);
    const [failed] = await records();
    expect(failed).toMatchObject({ status: 'FAILED', attempts: 1 });
    expect(failed.last_error).toMatch(/421/);
    sink.resume();
    expect(outcomes(await handle(ok, copy(refused)))).toEqual(['handled', 'handled']);
    expect((await records()).map((r) => [r.order_id === refused.payload.orderId ? 'refused' : 'ok', r.status, r.attempts]).sort()).toEqual([
      ['ok', 'SENT', 1],
      ['refused', 'SENT', 2],
    ]);
    expect(mailsFor(refused.payload.orderId)).toHaveLength(1);
  });

  it('treats a server it cannot reach as the message’s failure: retried by the policy, then dead-lettered (not waited for like its database)', async () => {
    const config = loadNotificationConfig({ ADMIN_TOKEN: 'x'.repeat(16), SMTP_URL: 'smtp://127.0.0.1:1', SMTP_TIMEOUT_MS: '1000' });
    const down = new SmtpMailer(config.smtp);
    try {
      const h = new NotificationHandlers(down, config, notificationMetrics(new Registry()), logger, systemClock);
      const [result] = await uow.handleBatch('notification', [confirmed()], (tx, fresh) => h.handle(tx, fresh));
      expect(result).toBeInstanceOf(MessageFailed);
      const error = (result as MessageFailed).error;
      expect(error).toBeInstanceOf(MailNotSent);
      expect(String(error)).toMatch(/ECONNREFUSED|ECONNECTION|ESOCKET/);
      expect(isUnavailable(error)).toBe(false);
      const policy = { immediateRetries: 1, delayedRetries: 2, baseDelayMs: 10, maxDelayMs: 100, jitter: 0 };
      expect(decideRecovery(error, 2, policy).kind).toBe('retry-later');
      expect(decideRecovery(error, 3, policy).kind).toBe('dead-letter');
    } finally {
      down.close();
    }
  });

  it('records an order that gave no address as skipped, and sends nothing', async () => {
    const m = confirmed(order(null));
    expect(outcomes(await handle(m))).toEqual(['handled']);
    expect(await records()).toMatchObject([{ status: 'SKIPPED', attempts: 0 }]);
    expect(sink.received).toHaveLength(0);
  });

  it('a batch whose commit fails after its mails were taken runs again without sending them twice', async () => {
    const flaky = failingOnce(db, 'INSERT INTO notifications');
    const batch = [confirmed(), confirmed(), cancelled()];
    const results = await new UnitOfWork(flaky, noDispatch).handleBatch('notification', batch, (tx, fresh) => handlers.handle(tx, fresh));
    expect(flaky.failed()).toBe(true);
    expect(outcomes(results)).toEqual(['handled', 'handled', 'handled']);
    for (const m of batch) expect(mailsFor(m.payload.orderId)).toHaveLength(1);
    expect((await records()).every((r) => r.status === 'SENT' && r.attempts === 1)).toBe(true);
  });
});
