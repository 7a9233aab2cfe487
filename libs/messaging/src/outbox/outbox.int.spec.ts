import { createEnvelope, type Envelope } from '@app/contracts';
import { openDataSource } from '@app/persistence';
import { createLogger, sleep } from '@app/platform';
import type { DataSource, EntityManager, MigrationInterface, QueryRunner } from 'typeorm';
import { createTestDatabase } from '../../../../test/support/postgres';
import { until } from '../../../../test/support/wait';
import { MessagingTables1763769600000 } from '../messaging-tables.migration';
import type { OutgoingMessage, Publisher } from '../transport';
import { UnitOfWork } from '../unit-of-work';
import { OutboxRelay } from './outbox-relay';

class EffectsTable1700000000000 implements MigrationInterface {
  name = 'EffectsTable1700000000000';
  async up(q: QueryRunner) {
    await q.query('CREATE TABLE effects (id serial PRIMARY KEY, message_id varchar(100) NOT NULL)');
  }
  async down(q: QueryRunner) {
    await q.query('DROP TABLE effects');
  }
}

class RecordingPublisher implements Publisher {
  published: OutgoingMessage[] = [];
  failing = false;
  delayMs = 0;
  async publish(messages: readonly OutgoingMessage[]): Promise<void> {
    if (this.delayMs) await sleep(this.delayMs);
    if (this.failing) throw new Error('broker unreachable');
    this.published.push(...messages);
  }
}

const logger = createLogger({ service: 'outbox-it' });
const orderId = 'b8f7c3f0-4a53-4e57-9d1e-1c2a9a0e6f10';
const msg = (n: number, key = orderId): Envelope => createEnvelope({ type: 'OrderPlaced', key, source: 'order', payload: { n } });
const relayOptions = { service: 'order', batchSize: 50, sweepIntervalMs: 100, retentionMs: 60_000 };

describe('outbox and inbox on PostgreSQL', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let ds: DataSource;

  beforeAll(async () => {
    db = await createTestDatabase();
    ds = await openDataSource({
      database: { kind: 'postgres', url: db.url },
      entities: [],
      migrations: [MessagingTables1763769600000, EffectsTable1700000000000],
    });
  });
  afterAll(async () => {
    await ds?.destroy();
    await db?.drop();
  });
  beforeEach(async () => {
    await ds.query('TRUNCATE outbox_messages, inbox_messages, effects');
  });

  const unpublished = async () => Number((await ds.query('SELECT count(*)::int AS n FROM outbox_messages WHERE published_at IS NULL'))[0].n);

  it('publishes committed messages right after commit, in commit order, and marks them only after the broker confirmed', async () => {
    const publisher = new RecordingPublisher();
    const relay = new OutboxRelay(ds, publisher, logger, { ...relayOptions, sweepIntervalMs: 60_000 });
    relay.start();
    const uow = new UnitOfWork(ds, relay);
    const sent: string[] = [];
    for (let i = 0; i < 30; i++) {
      const m = msg(i);
      sent.push(m.messageId);
      await uow.run((tx) => tx.send(m));
    }
    // The sweeper is a minute away: only the wake-up at commit can have published these.
    await until(
      () => publisher.published.length,
      (n) => n === 30,
      5000,
      'publish after commit',
    );
    expect(publisher.published.map((p) => p.envelope.messageId)).toEqual(sent);
    expect(publisher.published[0].routingKey).toBe('order.order-placed');
    expect(await unpublished()).toBe(0);
    await relay.stop();
  });

  it('sends nothing when the transaction rolls back', async () => {
    const publisher = new RecordingPublisher();
    const relay = new OutboxRelay(ds, publisher, logger, relayOptions);
    const uow = new UnitOfWork(ds, relay);
    await expect(
      uow.run(async (tx) => {
        await tx.send(msg(1));
        throw new Error('business failure');
      }),
    ).rejects.toThrow('business failure');
    expect(Number((await ds.query('SELECT count(*)::int AS n FROM outbox_messages'))[0].n)).toBe(0);
  });

  it('keeps rows while the broker is down and the sweeper sends them when it is back', async () => {
    const publisher = new RecordingPublisher();
    publisher.failing = true;
    const relay = new OutboxRelay(ds, publisher, logger, relayOptions);
    relay.start();
    const uow = new UnitOfWork(ds, relay);
    for (let i = 0; i < 5; i++) await uow.run((tx) => tx.send(msg(i)));
    await sleep(300);
    expect(await unpublished()).toBe(5);
    publisher.failing = false;
    await until(
      () => publisher.published.length,
      (n) => n === 5,
      10_000,
      'publish after recovery',
    );
    expect(await unpublished()).toBe(0);
    await relay.stop();
  });

  it('re-sends rows that a crashed relay left unmarked (a new relay instance picks them up)', async () => {
    const uow = new UnitOfWork(ds, { wake: () => {} });
    for (let i = 0; i < 3; i++) await uow.run((tx) => tx.send(msg(i)));
    // No relay ran: as if the process died between commit and publish.
    const publisher = new RecordingPublisher();
    const relay = new OutboxRelay(ds, publisher, logger, relayOptions);
    relay.start();
    await until(
      () => publisher.published.length,
      (n) => n === 3,
      5000,
      'sweep after restart',
    );
    await relay.stop();
  });

  it('gives a redelivered message no second effect (inbox in the same transaction)', async () => {
    const uow = new UnitOfWork(ds, { wake: () => {} });
    const m = msg(1);
    const effect = (tx: { manager: { query: (s: string, p: unknown[]) => Promise<unknown> } }) =>
      tx.manager.query('INSERT INTO effects (message_id) VALUES ($1)', [m.messageId]);
    expect(await uow.handle('payment', m, async (tx) => void (await effect(tx)))).toBe('handled');
    expect(await uow.handle('payment', m, async (tx) => void (await effect(tx)))).toBe('duplicate');
    // Another consumer of the same message is not a duplicate.
    expect(await uow.handle('inventory', m, async (tx) => void (await effect(tx)))).toBe('handled');
    expect(Number((await ds.query('SELECT count(*)::int AS n FROM effects'))[0].n)).toBe(2);
  });

  it('gives concurrent duplicate deliveries exactly one effect', async () => {
    const uow = new UnitOfWork(ds, { wake: () => {} });
    const m = msg(7);
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, () =>
        uow.handle('payment', m, async (tx) => {
          await tx.manager.query('INSERT INTO effects (message_id) VALUES ($1)', [m.messageId]);
          await tx.send(msg(100));
        }),
      ),
    );
    const handled = results.filter((r) => r.status === 'fulfilled' && r.value === 'handled').length;
    expect(handled).toBe(1);
    expect(Number((await ds.query('SELECT count(*)::int AS n FROM effects'))[0].n)).toBe(1);
    expect(Number((await ds.query('SELECT count(*)::int AS n FROM outbox_messages'))[0].n)).toBe(1);
  });

  it('a failed handler leaves no inbox record, so its retry is not taken for a duplicate', async () => {
    const uow = new UnitOfWork(ds, { wake: () => {} });
    const m = msg(3);
    await expect(
      uow.handle('payment', m, async () => {
        throw new Error('transient');
      }),
    ).rejects.toThrow('transient');
    expect(await uow.handle('payment', m, async () => {})).toBe('handled');
  });

  describe('batched (several messages per transaction)', () => {
    const effects = async () => Number((await ds.query('SELECT count(*)::int AS n FROM effects'))[0].n);
    const count = async (table: string) => Number((await ds.query(`SELECT count(*)::int AS n FROM ${table}`))[0].n);
    const work =
      (m: Envelope, fail = false) =>
      async (tx: { manager: EntityManager; send: (...m: Envelope[]) => Promise<void> }) => {
        await tx.manager.query('INSERT INTO effects (message_id) VALUES ($1)', [m.messageId]);
        await tx.send(msg(1000));
        if (fail) throw new Error(`handler failed for ${m.messageId}`);
      };

    it('shares one commit among messages that arrive together, each with its own inbox record and outbox row', async () => {
      const uow = new UnitOfWork(ds, { wake: () => {} }, { maxBatch: 8 });
      const transactions = jest.spyOn(ds, 'transaction');
      const messages = Array.from({ length: 20 }, (_, i) => msg(i));
      const outcomes = await Promise.all(messages.map((m) => uow.handle('payment', m, work(m))));
      expect(outcomes.every((o) => o === 'handled')).toBe(true);
      // The first message commits alone; the rest queue behind it and share transactions.
      expect(transactions.mock.calls.length).toBeLessThanOrEqual(5);
      transactions.mockRestore();
      expect(await effects()).toBe(20);
      expect(await count('inbox_messages')).toBe(20);
      expect(await count('outbox_messages')).toBe(20);
    });

    it('a failing message fails alone: the others of its batch commit, its effects and inbox record do not', async () => {
      const uow = new UnitOfWork(ds, { wake: () => {} }, { maxBatch: 8 });
      const messages = Array.from({ length: 10 }, (_, i) => msg(i));
      const results = await Promise.allSettled(messages.map((m, i) => uow.handle('payment', m, work(m, i === 6))));
      expect(results.filter((r) => r.status === 'fulfilled').length).toBe(9);
      expect(results[6]).toMatchObject({ status: 'rejected', reason: expect.objectContaining({ message: `handler failed for ${messages[6].messageId}` }) });
      expect(await effects()).toBe(9);
      expect(await count('outbox_messages')).toBe(9);
      const inbox = await ds.query('SELECT message_id FROM inbox_messages');
      expect(inbox.map((r: { message_id: string }) => r.message_id)).not.toContain(messages[6].messageId);
      // Its retry is not taken for a duplicate.
      expect(await uow.handle('payment', messages[6], work(messages[6]))).toBe('handled');
    });

    it('a message delivered twice into one batch, or handled before, has one effect', async () => {
      const uow = new UnitOfWork(ds, { wake: () => {} }, { maxBatch: 8 });
      const before = msg(50);
      expect(await uow.handle('payment', before, work(before))).toBe('handled');
      const twice = msg(51);
      const outcomes = await Promise.all([before, twice, msg(52), twice, before].map((m) => uow.handle('payment', m, work(m))));
      expect(outcomes.filter((o) => o === 'handled').length).toBe(2);
      expect(outcomes.filter((o) => o === 'duplicate').length).toBe(3);
      expect(await effects()).toBe(3);
    });
  });

  it('two relay instances of one service publish every row once, in commit order per order', async () => {
    const ds2 = await openDataSource({ database: { kind: 'postgres', url: db.url }, entities: [], migrations: [], runMigrations: false });
    const publisher = new RecordingPublisher();
    publisher.delayMs = 2;
    const relayA = new OutboxRelay(ds, publisher, logger, { ...relayOptions, batchSize: 7 });
    const relayB = new OutboxRelay(ds2, publisher, logger, { ...relayOptions, batchSize: 7 });
    relayA.start();
    relayB.start();
    const uowA = new UnitOfWork(ds, relayA);
    const uowB = new UnitOfWork(ds2, relayB);
    const orders = ['11111111-1111-4111-8111-111111111111', '22222222-2222-4222-8222-222222222222', '33333333-3333-4333-8333-333333333333'];
    const expected = new Map<string, string[]>(orders.map((o) => [o, []]));
    const writes: Promise<void>[] = [];
    for (let i = 0; i < 60; i++) {
      const key = orders[i % 3];
      const m = msg(i, key);
      expected.get(key)!.push(m.messageId);
      // Alternate writers; each order's messages are committed in sequence.
      writes.push((i % 2 ? uowA : uowB).run((tx) => tx.send(m)));
      if (i % 3 === 2) await Promise.all(writes.splice(0));
    }
    await Promise.all(writes);
    await until(
      () => publisher.published.length,
      (n) => n >= 60,
      10_000,
      'all published',
    );
    await sleep(300);
    expect(publisher.published).toHaveLength(60);
    for (const o of orders) {
      expect(publisher.published.filter((p) => p.envelope.key === o).map((p) => p.envelope.messageId)).toEqual(expected.get(o));
    }
    await relayA.stop();
    await relayB.stop();
    await ds2.destroy();
  });
});
