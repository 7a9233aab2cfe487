import { createEnvelope, type OrderPlaced } from '@app/contracts';
import { MessageFailed, messagingMigrations, UnitOfWork, type Dispatch } from '@app/messaging';
import { openDataSource, sqlDatabaseOf, type SqlDatabase } from '@app/persistence';
import { createLogger, systemClock } from '@app/platform';
import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { failingOnce } from '../../../../test/support/failing-database';
import { createTestDatabase } from '../../../../test/support/postgres';
import { GatewayUnavailableError, type GatewayAccount, type PaymentGateway } from '../gateway/payment-gateway';
import { PaymentTables1763769600002 } from '../migrations/1763769600002-payment-tables';
import { PaymentHandlers } from './payment.handlers';

/** A gateway that counts what it is asked, per idempotency key, and refuses flagged accounts. */
class CountingGateway implements PaymentGateway {
  readonly calls = new Map<string, number>();
  async authorize(account: GatewayAccount, _amount: number, idempotencyKey: string): Promise<void> {
    this.calls.set(idempotencyKey, (this.calls.get(idempotencyKey) ?? 0) + 1);
    if (account.simulateGatewayError) throw new GatewayUnavailableError(`refused for ${account.customerId}`);
  }
}

const noDispatch: Dispatch = { dispatch: () => undefined };
const logger = createLogger({ service: 'payment-it' });

type PaymentMessage = Parameters<PaymentHandlers['handle']>[1][number];

const placed = (customerId: string, total: number): PaymentMessage => {
  const orderId = randomUUID();
  const envelope = createEnvelope<OrderPlaced>({
    type: 'OrderPlaced',
    key: orderId,
    source: 'order',
    payload: { orderId, customerId, items: [{ sku: 'SKU-1', quantity: 1, unitPrice: total, lineTotal: total }], total, currency: 'USD', email: null },
  });
  return { ...envelope, type: 'OrderPlaced' };
};

describe('Payment handler batches on PostgreSQL', () => {
  let dbInfo: Awaited<ReturnType<typeof createTestDatabase>>;
  let ds: DataSource;
  let db: SqlDatabase;

  beforeAll(async () => {
    dbInfo = await createTestDatabase('saga_it_payment');
    ds = await openDataSource({
      database: { kind: 'postgres', url: dbInfo.url },
      entities: [],
      migrations: [...messagingMigrations, PaymentTables1763769600002],
    });
    db = sqlDatabaseOf(ds);
  });
  afterAll(async () => {
    await ds?.destroy();
    await dbInfo?.drop();
  });
  beforeEach(async () => {
    await ds.query('TRUNCATE payments, accounts, outbox_messages, inbox_messages');
    await ds.query(
      `INSERT INTO accounts (customer_id, balance, simulate_gateway_error) VALUES ('alice', 100000, false), ('bob', 100000, false), ('flagged', 100000, true)`,
    );
  });

  const balance = async (customerId: string) => Number((await ds.query('SELECT balance FROM accounts WHERE customer_id = $1', [customerId]))[0].balance);
  const paymentsOf = async (orderIds: string[]) =>
    (await ds.query('SELECT order_id, status FROM payments WHERE order_id = ANY($1::uuid[])', [orderIds])) as Array<{ order_id: string; status: string }>;

  it('a batch with one refused charge: the others commit, and the gateway was asked once per order', async () => {
    const gateway = new CountingGateway();
    const handlers = new PaymentHandlers(gateway, logger, systemClock);
    const uow = new UnitOfWork(db, noDispatch);
    const batch = [placed('alice', 1000), placed('bob', 2000), placed('flagged', 500), placed('alice', 3000), placed('bob', 4000)];

    const outcomes = await uow.handleBatch('payment', batch, (tx, fresh) => handlers.handle(tx, fresh));

    expect(outcomes.map((o) => (o instanceof MessageFailed ? 'failed' : o))).toEqual(['handled', 'handled', 'failed', 'handled', 'handled']);
    expect([...gateway.calls.entries()].sort()).toEqual(batch.map((m) => [`payment:${m.payload.orderId}`, 1]).sort());
    expect(await balance('alice')).toBe(100000 - 4000);
    expect(await balance('bob')).toBe(100000 - 6000);
    expect(await balance('flagged')).toBe(100000);
    const stored = await paymentsOf(batch.map((m) => m.payload.orderId));
    expect(stored.map((p) => p.order_id).sort()).toEqual([batch[0], batch[1], batch[3], batch[4]].map((m) => m.payload.orderId).sort());
    expect(stored.every((p) => p.status === 'AUTHORIZED')).toBe(true);
    // The refused one's inbox record was taken back with it: its retry is not a duplicate.
    const inbox = (await ds.query('SELECT message_id FROM inbox_messages')) as Array<{ message_id: string }>;
    expect(inbox.map((r) => r.message_id).sort()).toEqual([batch[0], batch[1], batch[3], batch[4]].map((m) => m.messageId).sort());
    expect(Number((await ds.query('SELECT count(*)::int AS n FROM outbox_messages'))[0].n)).toBe(4);
  });

  it('a batch whose commit fails is run again message by message, and the gateway is still asked once per order', async () => {
    const gateway = new CountingGateway();
    const handlers = new PaymentHandlers(gateway, logger, systemClock);
    // The first transaction's outbox insert fails (a lost connection, say), after the charges were approved.
    const flaky = failingOnce(db, 'INSERT INTO outbox_messages');
    const uow = new UnitOfWork(flaky, noDispatch);
    const batch = [placed('alice', 1000), placed('bob', 2000), placed('alice', 3000)];

    const outcomes = await uow.handleBatch('payment', batch, (tx, fresh) => handlers.handle(tx, fresh));

    expect(flaky.failed()).toBe(true);
    expect(outcomes).toEqual(['handled', 'handled', 'handled']);
    expect([...gateway.calls.values()]).toEqual([1, 1, 1]);
    expect(gateway.calls.size).toBe(3);
    expect(await balance('alice')).toBe(100000 - 4000);
    expect(await balance('bob')).toBe(100000 - 2000);
    expect(await paymentsOf(batch.map((m) => m.payload.orderId))).toHaveLength(3);
  });
});
