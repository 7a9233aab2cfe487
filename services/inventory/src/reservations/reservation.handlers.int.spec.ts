import { randomUUID } from 'node:crypto';
import { createEnvelope, PaymentAuthorized, ReleaseStock, type Envelope } from '@app/contracts';
import { MessageBatcher, messagingMigrations, UnitOfWork } from '@app/messaging';
import { openDataSource, sqlDatabaseOf } from '@app/persistence';
import { createLogger, systemClock } from '@app/platform';
import type { DataSource } from 'typeorm';
import { createTestDatabase } from '../../../../test/support/postgres';
import { InventoryTables1763769600003 } from '../migrations/1763769600003-inventory-tables';
import { StockEntity } from '../stock/stock.entity';
import { ReservationEntity } from './reservation.entity';
import { InventoryHandlers } from './reservation.handlers';

const payment = (orderId: string, items: Array<[string, number]>): Envelope<PaymentAuthorized> =>
  createEnvelope({
    type: PaymentAuthorized.type,
    key: orderId,
    source: 'payment',
    payload: {
      orderId,
      paymentId: randomUUID(),
      customerId: 'alice',
      amount: 100,
      currency: 'USD',
      items: items.map(([sku, quantity]) => ({ sku, quantity, unitPrice: 1 })),
    },
  });
const release = (orderId: string): Envelope<ReleaseStock> =>
  createEnvelope({ type: ReleaseStock.type, key: orderId, source: 'order', payload: { orderId, reason: 'TIMEOUT' } });

describe('inventory handlers on PostgreSQL', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let ds: DataSource;
  let batcher: MessageBatcher;

  beforeAll(async () => {
    db = await createTestDatabase('inventory_it');
    ds = await openDataSource({
      database: { kind: 'postgres', url: db.url, poolSize: 20 },
      entities: [StockEntity, ReservationEntity],
      migrations: [...messagingMigrations, InventoryTables1763769600003],
    });
    // Outbox rows stay in the table (nothing dispatches them), so the tests can read what was sent.
    const uow = new UnitOfWork(sqlDatabaseOf(ds), { dispatch: () => undefined });
    // Batches of up to 16, four transactions at once: what two instances under load do.
    batcher = new MessageBatcher(uow, 'inventory', new InventoryHandlers(createLogger({ service: 'inventory-it' }), systemClock), {
      maxBatch: 16,
      concurrency: 4,
    });
  });
  afterAll(async () => {
    await ds?.destroy();
    await db?.drop();
  });

  /** Delivers as the consumer does: through the batcher, with a few immediate retries (alone). */
  async function deliver(message: Envelope, attempts = 3): Promise<void> {
    for (let i = 1; ; i++) {
      try {
        await batcher.submit(message, { alone: i > 1 });
        return;
      } catch (error) {
        if (i >= attempts) throw error;
      }
    }
  }
  const deadlocks = async () => Number((await ds.query('SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()'))[0].deadlocks);
  const stockOf = async (sku: string) => ds.getRepository(StockEntity).findOneByOrFail({ sku });
  const reservationOf = (orderId: string) => ds.getRepository(ReservationEntity).findOneBy({ orderId });
  const sent = async (orderId: string): Promise<Envelope<Record<string, unknown>>[]> =>
    (await ds.query('SELECT envelope FROM outbox_messages WHERE msg_key = $1 ORDER BY id', [orderId])).map(
      (r: { envelope: Envelope<Record<string, unknown>> }) => r.envelope,
    );
  const seed = (levels: Array<[string, number]>) => ds.getRepository(StockEntity).insert(levels.map(([sku, available]) => ({ sku, available, reserved: 0 })));

  it('reserves, answers through the outbox caused by the message, and ignores a redelivery', async () => {
    await seed([
      ['IT-A1', 10],
      ['IT-A2', 3],
    ]);
    const orderId = randomUUID();
    const m = payment(orderId, [
      ['IT-A1', 2],
      ['IT-A2', 3],
      ['IT-A1', 1],
    ]);
    await deliver(m);
    await deliver(m);
    expect(await stockOf('IT-A1')).toMatchObject({ available: 7, reserved: 3 });
    expect(await stockOf('IT-A2')).toMatchObject({ available: 0, reserved: 3 });
    expect(await reservationOf(orderId)).toMatchObject({
      status: 'RESERVED',
      items: [
        { sku: 'IT-A1', quantity: 3 },
        { sku: 'IT-A2', quantity: 3 },
      ],
      shortages: null,
    });
    const out = await sent(orderId);
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ type: 'StockReserved', key: orderId, source: 'inventory', causationId: m.messageId, correlationId: m.correlationId });
  });

  it('releases what was reserved once, and answers a repeated release with nothing released', async () => {
    await seed([['IT-B1', 5]]);
    const orderId = randomUUID();
    await deliver(payment(orderId, [['IT-B1', 4]]));
    await deliver(release(orderId));
    await deliver(release(orderId));
    expect(await stockOf('IT-B1')).toMatchObject({ available: 5, reserved: 0 });
    expect((await sent(orderId)).map((e) => [e.type, e.payload.items])).toEqual([
      ['StockReserved', [{ sku: 'IT-B1', quantity: 4 }]],
      ['StockReleased', [{ sku: 'IT-B1', quantity: 4 }]],
      ['StockReleased', []],
    ]);
  });

  it('reserves nothing when a line is short, and a later release moves nothing', async () => {
    await seed([
      ['IT-C1', 5],
      ['IT-C2', 1],
    ]);
    const orderId = randomUUID();
    await deliver(
      payment(orderId, [
        ['IT-C1', 2],
        ['IT-C2', 2],
        ['IT-GHOST', 1],
      ]),
    );
    await deliver(release(orderId));
    expect(await stockOf('IT-C1')).toMatchObject({ available: 5, reserved: 0 });
    expect(await reservationOf(orderId)).toMatchObject({
      status: 'FAILED',
      shortages: [
        { sku: 'IT-C2', requested: 2, available: 1 },
        { sku: 'IT-GHOST', requested: 1, available: 0 },
      ],
    });
    expect((await sent(orderId)).map((e) => e.type)).toEqual(['StockReservationFailed', 'StockReleased']);
  });

  it('never oversells when many orders race for scarce stock, and never deadlocks', async () => {
    const deadlocksBefore = await deadlocks();
    const skus = ['IT-D1', 'IT-D2', 'IT-D3'];
    const initial = new Map([
      ['IT-D1', 25],
      ['IT-D2', 40],
      ['IT-D3', 15],
    ]);
    await seed([...initial]);
    // Lines in varying order: without one lock order, two orders would deadlock.
    const orders = Array.from({ length: 80 }, (_, i) => {
      const lines: Array<[string, number]> = skus.map((sku, j) => [sku, 1 + ((i + j) % 3)]);
      return { orderId: randomUUID(), lines: i % 2 ? lines.reverse() : lines };
    });
    const results = await Promise.allSettled(orders.map((o) => deliver(payment(o.orderId, o.lines), 1)));
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);

    const reservations = await ds.getRepository(ReservationEntity).find();
    const ours = reservations.filter((r) => orders.some((o) => o.orderId === r.orderId));
    expect(ours).toHaveLength(orders.length);
    for (const sku of skus) {
      const s = await stockOf(sku);
      const held = ours
        .filter((r) => r.status === 'RESERVED')
        .flatMap((r) => r.items)
        .filter((l) => l.sku === sku)
        .reduce((n, l) => n + l.quantity, 0);
      expect(s.available).toBeGreaterThanOrEqual(0);
      expect(s.reserved).toBe(held);
      expect(s.available + s.reserved).toBe(initial.get(sku));
    }
    expect(ours.some((r) => r.status === 'RESERVED')).toBe(true);
    expect(ours.some((r) => r.status === 'FAILED')).toBe(true);
    for (const o of orders) expect(await sent(o.orderId)).toHaveLength(1);
    // PostgreSQL aborted no transaction for a deadlock (its statistics are flushed within a second).
    await new Promise((r) => setTimeout(r, 1100));
    expect(await deadlocks()).toBe(deadlocksBefore);
  });

  it('when a release and a payment race for an order it has not seen, the stock ends where it started either way', async () => {
    await seed([['IT-E1', 1000]]);
    const orders = Array.from({ length: 30 }, () => randomUUID());
    // No retries: the two take turns on the order's lock, so neither fails on the UNIQUE order_id.
    await Promise.all(orders.flatMap((id) => [deliver(payment(id, [['IT-E1', 3]]), 1), deliver(release(id), 1)]));
    expect(await stockOf('IT-E1')).toMatchObject({ available: 1000, reserved: 0 });
    for (const id of orders) {
      const r = await reservationOf(id);
      const types = (await sent(id)).map((e) => e.type);
      if (r!.status === 'VOIDED') expect(types).toEqual(['StockReleased', 'StockReservationFailed']);
      else expect([r!.status, types]).toEqual(['RELEASED', ['StockReserved', 'StockReleased']]);
    }
  });
});
