import { createEnvelope, type Envelope } from '@app/contracts';
import { openDataSource, sqlDatabaseOf, type SqlDatabase } from '@app/persistence';
import { createLogger, sleep } from '@app/platform';
import type { DataSource, MigrationInterface, QueryRunner } from 'typeorm';
import { createTestDatabase } from '../../../../test/support/postgres';
import { until } from '../../../../test/support/wait';
import { failed, handled, type MessageResult } from '../handler';
import { messagingMigrations } from '../nest/service-kit';
import type { OutgoingMessage, Publisher } from '../transport';
import { MessageFailed, UnitOfWork, type Tx } from '../unit-of-work';
import { Registry } from 'prom-client';
import { OutboxDispatcher, defaultDispatcherOptions, type OutboxDispatcherOptions } from './outbox-dispatcher';
import { OutboxMetrics } from './outbox.metrics';

class EffectsTable1700000000000 implements MigrationInterface {
  name = 'EffectsTable1700000000000';
  async up(q: QueryRunner) {
    await q.query('CREATE TABLE effects (id serial PRIMARY KEY, message_id varchar(100) NOT NULL)');
  }
  async down(q: QueryRunner) {
    await q.query('DROP TABLE effects');
  }
}

/** A broker double for one channel: records, fails, is slow, or never answers, as told. */
class RecordingPublisher implements Publisher {
  published: OutgoingMessage[] = [];
  failing = false;
  hanging = false;
  delayMs = 0;
  /** When set, a publish answers once it settles. */
  gate?: Promise<void>;
  calls = 0;
  async publish(messages: readonly OutgoingMessage[]): Promise<void> {
    this.calls++;
    if (this.hanging) await new Promise(() => undefined);
    if (this.gate) await this.gate;
    if (this.delayMs) await sleep(this.delayMs);
    if (this.failing) throw new Error('broker unreachable');
    this.published.push(...messages);
  }
}

const logger = createLogger({ service: 'outbox-it' });
const orderId = 'b8f7c3f0-4a53-4e57-9d1e-1c2a9a0e6f10';
const msg = (n: number, key = orderId): Envelope => createEnvelope({ type: 'OrderPlaced', key, source: 'order', payload: { n } });

describe('outbox dispatcher and inbox on PostgreSQL', () => {
  let dbInfo: Awaited<ReturnType<typeof createTestDatabase>>;
  let ds: DataSource;
  let db: SqlDatabase;
  const running: OutboxDispatcher[] = [];

  const dispatcher = (bus: Publisher, stream: Publisher, options: Partial<OutboxDispatcherOptions> = {}, on = db) => {
    const d = new OutboxDispatcher(on, logger, {
      service: 'order',
      ...defaultDispatcherOptions,
      sweepIntervalMs: 50,
      sweepAfterMs: 300,
      partialAfterMs: 200,
      stopTimeoutMs: 200,
      channels: [
        { name: 'bus', publisher: bus, pipeline: 16 },
        { name: 'stream', publisher: stream, pipeline: 1 },
      ],
      ...options,
    });
    d.start();
    running.push(d);
    return d;
  };
  const rows = async () => Number((await ds.query('SELECT count(*)::int AS n FROM outbox_messages'))[0].n);
  const effects = async () => Number((await ds.query('SELECT count(*)::int AS n FROM effects'))[0].n);
  const effect = (tx: Tx, m: Envelope) => tx.sql.query('INSERT INTO effects (message_id) VALUES ($1)', [m.messageId]);

  beforeAll(async () => {
    dbInfo = await createTestDatabase();
    ds = await openDataSource({
      database: { kind: 'postgres', url: dbInfo.url },
      entities: [],
      migrations: [...messagingMigrations, EffectsTable1700000000000],
    });
    db = sqlDatabaseOf(ds);
  });
  afterAll(async () => {
    await ds?.destroy();
    await dbInfo?.drop();
  });
  beforeEach(async () => {
    await ds.query('TRUNCATE outbox_messages, inbox_messages, effects');
  });
  afterEach(async () => {
    for (const d of running.splice(0)) await d.stop();
  });

  it('publishes committed messages from memory right after the commit, in commit order, on both channels, then deletes them', async () => {
    const bus = new RecordingPublisher();
    const stream = new RecordingPublisher();
    const uow = new UnitOfWork(db, dispatcher(bus, stream));
    const sent = [msg(1), msg(2), msg(3)];
    for (const m of sent) await uow.run(async (tx) => tx.send(m));
    await until(
      () => rows(),
      (n) => n === 0,
      5000,
      'every row deleted',
    );
    for (const p of [bus, stream]) expect(p.published.map((x) => x.envelope.messageId)).toEqual(sent.map((m) => m.messageId));
    // Serialized once, at the commit: the published body is the text the outbox stored.
    expect(JSON.parse(bus.published[0].body!)).toEqual(sent[0]);
  });

  it('sends nothing when the transaction rolls back', async () => {
    const bus = new RecordingPublisher();
    const uow = new UnitOfWork(db, dispatcher(bus, new RecordingPublisher()));
    await expect(
      uow.run(async (tx) => {
        tx.send(msg(1));
        throw new Error('handler failed');
      }),
    ).rejects.toThrow('handler failed');
    await sleep(400);
    expect(bus.published).toHaveLength(0);
    expect(await rows()).toBe(0);
  });

  it('a stream publisher that never answers holds up only the stream: the bus still sends within 100 ms', async () => {
    const bus = new RecordingPublisher();
    const stream = new RecordingPublisher();
    stream.hanging = true;
    const uow = new UnitOfWork(db, dispatcher(bus, stream));
    for (let i = 0; i < 20; i++) {
      const m = msg(i);
      const committed = Date.now();
      await uow.run(async (tx) => tx.send(m));
      await until(() => bus.published.some((p) => p.envelope.messageId === m.messageId), Boolean, 100, `message ${i} on the bus within 100 ms of its commit`);
      expect(Date.now() - committed).toBeLessThan(100);
    }
    // What the bus has sent is written down, so that nobody sends it there again; the stream owes them all.
    await until(
      async () => Number((await ds.query('SELECT count(*)::int AS n FROM outbox_messages WHERE published_at IS NOT NULL AND streamed_at IS NULL'))[0].n),
      (n) => n === 20,
      5000,
      'the bus sends written down',
    );
  });

  it("reports each channel's backlog and the age of its oldest row, read from the table, and counts what went out", async () => {
    const registry = new Registry();
    const metrics = new OutboxMetrics(registry);
    const bus = new RecordingPublisher();
    bus.failing = true;
    const stream = new RecordingPublisher();
    const uow = new UnitOfWork(db, dispatcher(bus, stream, { metrics, sweepAfterMs: 60_000 }));
    for (let i = 0; i < 3; i++) await uow.run(async (tx) => tx.send(msg(i)));
    await until(
      () => stream.published.length,
      (n) => n === 3,
      5000,
      'the stream sends',
    );
    await sleep(300);
    const gauge = async (name: string, channel: string) =>
      (await registry.getSingleMetric(name)!.get()).values.find((v) => v.labels.channel === channel)?.value;
    expect(await gauge('saga_outbox_pending_messages', 'bus')).toBe(3);
    expect(await gauge('saga_outbox_pending_messages', 'stream')).toBe(0);
    expect(await gauge('saga_outbox_oldest_pending_age_seconds', 'bus')).toBeGreaterThanOrEqual(0.25);
    expect(await gauge('saga_outbox_oldest_pending_age_seconds', 'stream')).toBe(0);
    expect(await registry.metrics()).toMatch(/saga_outbox_sent_total\{channel="stream"\} 3/);
    expect(await registry.metrics()).toMatch(/saga_outbox_publish_failures_total\{channel="bus"\} [1-9]/);
    // Every publish observed once, its rows and its time: the stream's 3 rows in however many publishes.
    const text = await registry.metrics();
    expect(text).toMatch(/saga_outbox_publish_batch_size_sum\{channel="stream"\} 3\n/);
    const count = (name: string, channel: string) => Number(new RegExp(`${name}_count\\{channel="${channel}"\\} (\\d+)`).exec(text)?.[1]);
    expect(count('saga_outbox_publish_duration_seconds', 'stream')).toBe(count('saga_outbox_publish_batch_size', 'stream'));
    expect(count('saga_outbox_publish_duration_seconds', 'stream')).toBeGreaterThanOrEqual(1);
    // The bus's failed publishes are timed too.
    expect(count('saga_outbox_publish_duration_seconds', 'bus')).toBeGreaterThanOrEqual(1);
  });

  it('a bus that never confirms leaves the stream flowing', async () => {
    const bus = new RecordingPublisher();
    bus.hanging = true;
    const stream = new RecordingPublisher();
    const uow = new UnitOfWork(db, dispatcher(bus, stream));
    for (let i = 0; i < 10; i++) await uow.run(async (tx) => tx.send(msg(i)));
    await until(
      () => stream.published.length,
      (n) => n === 10,
      2000,
      'the stream to send all ten',
    );
  });

  it('keeps rows while a broker is down, and sends its backlog in order before new rows once it is back', async () => {
    const bus = new RecordingPublisher();
    const stream = new RecordingPublisher();
    stream.failing = true;
    const uow = new UnitOfWork(db, dispatcher(bus, stream));
    const sent: Envelope[] = [];
    for (let i = 0; i < 5; i++) {
      const m = msg(i);
      sent.push(m);
      await uow.run(async (tx) => tx.send(m));
    }
    await until(
      () => bus.published.length,
      (n) => n === 5,
      2000,
      'the bus to send',
    );
    await sleep(300);
    expect(await rows()).toBe(5);
    stream.failing = false;
    await until(
      () => rows(),
      (n) => n === 0,
      5000,
      'the sweeper to send the stream backlog',
    );
    const more = msg(99);
    await uow.run(async (tx) => tx.send(more));
    await until(
      () => stream.published.length,
      (n) => n === 6,
      2000,
      'the new row on the stream',
    );
    expect(stream.published.map((p) => p.envelope.messageId)).toEqual([...sent, more].map((m) => m.messageId));
  });

  it('re-sends what a process that died between commit and publish (or publish and delete) left behind', async () => {
    // The rows a crashed process committed: in the table, in nobody's memory.
    await ds.query(
      `INSERT INTO outbox_messages (message_id, type, routing_key, msg_key, envelope) SELECT m, 'OrderPlaced', 'order.order-placed', $1, jsonb_build_object('messageId', m)
         FROM unnest($2::text[]) AS m`,
      [orderId, ['left-1', 'left-2', 'left-3']],
    );
    await ds.query("UPDATE outbox_messages SET created_at = now() - interval '1 hour'");
    const bus = new RecordingPublisher();
    const stream = new RecordingPublisher();
    dispatcher(bus, stream);
    await until(
      () => rows(),
      (n) => n === 0,
      5000,
      'the sweeper to send and delete them',
    );
    for (const p of [bus, stream]) expect(p.published.map((x) => x.envelope.messageId)).toEqual(['left-1', 'left-2', 'left-3']);
  });

  it('sweeps in id order past a row another statement holds locked for a moment (the other channel claiming it), never around it', async () => {
    await ds.query(
      `INSERT INTO outbox_messages (message_id, type, routing_key, msg_key, envelope) SELECT m, 'OrderPlaced', 'order.order-placed', $1, jsonb_build_object('messageId', m)
         FROM unnest($2::text[]) AS m`,
      [orderId, ['held-1', 'held-2', 'held-3']],
    );
    await ds.query("UPDATE outbox_messages SET created_at = now() - interval '1 hour'");
    // What the other channel's claim does to the oldest row for the length of its statement,
    // held here for long enough that a sweep runs meanwhile.
    const holder = ds.createQueryRunner();
    await holder.connect();
    await holder.startTransaction();
    await holder.query("SELECT id FROM outbox_messages WHERE message_id = 'held-1' FOR UPDATE");
    const bus = new RecordingPublisher();
    const stream = new RecordingPublisher();
    try {
      dispatcher(bus, stream);
      await sleep(500);
      // Before the fix, held-2 and held-3 went out here, and held-1 after them.
      expect([...bus.published, ...stream.published].map((x) => x.envelope.messageId)).toEqual([]);
    } finally {
      await holder.commitTransaction();
      await holder.release();
    }
    await until(
      () => rows(),
      (n) => n === 0,
      5000,
      'the sweeper to send and delete them',
    );
    for (const p of [bus, stream]) expect(p.published.map((x) => x.envelope.messageId)).toEqual(['held-1', 'held-2', 'held-3']);
  });

  it("deletes a row as soon as each channel's sweep has written it down, though each claimed it while the other had not sent it", async () => {
    await ds.query(
      `INSERT INTO outbox_messages (message_id, type, routing_key, msg_key, envelope, created_at)
         SELECT m, 'OrderPlaced', 'order.order-placed', $1, jsonb_build_object('messageId', m), now() - interval '1 hour' FROM unnest($2::text[]) AS m`,
      [orderId, ['both-1', 'both-2']],
    );
    const bus = new RecordingPublisher();
    const stream = new RecordingPublisher();
    // The bus confirms only once the stream's sweep has claimed the rows, seen them unsent on
    // the bus, and written its own channel down; then the bus's sweep writes the bus down.
    let open!: () => void;
    bus.gate = new Promise<void>((resolve) => (open = resolve));
    // A minute between cleanups, as in production: the rows may not wait for one.
    dispatcher(bus, stream, { sweepIntervalMs: 500 });
    await until(
      () => ds.query('SELECT count(*)::int AS n FROM outbox_messages WHERE streamed_at IS NOT NULL'),
      (r) => r[0].n === 2,
      3000,
      'the stream to write its channel down',
    );
    open();
    await until(
      () => rows(),
      (n) => n === 0,
      3000,
      'the bus to write its channel down, and the rows to go',
    );
    for (const p of [bus, stream]) expect(p.published.map((x) => x.envelope.messageId)).toEqual(['both-1', 'both-2']);
  });

  it('two instances sweeping the same outbox send every left-behind row once per channel', async () => {
    const ds2 = await openDataSource({ database: { kind: 'postgres', url: dbInfo.url }, entities: [], migrations: [], runMigrations: false });
    try {
      const ids = Array.from({ length: 300 }, (_, i) => `left-${String(i).padStart(3, '0')}`);
      await ds.query(
        `INSERT INTO outbox_messages (message_id, type, routing_key, msg_key, envelope, created_at)
           SELECT m, 'OrderPlaced', 'order.order-placed', $1, jsonb_build_object('messageId', m), now() - interval '1 hour' FROM unnest($2::text[]) AS m`,
        [orderId, ids],
      );
      const bus = new RecordingPublisher();
      const stream = new RecordingPublisher();
      bus.delayMs = 5;
      dispatcher(bus, stream, { batchMax: 20 });
      dispatcher(bus, stream, { batchMax: 20 }, sqlDatabaseOf(ds2));
      await until(
        () => rows(),
        (n) => n === 0,
        10_000,
        'both sweepers to finish',
      );
      for (const p of [bus, stream]) expect(p.published.map((x) => x.envelope.messageId).sort()).toEqual(ids);
    } finally {
      for (const d of running.splice(0)) await d.stop();
      await ds2.destroy();
    }
  });

  describe('inbox and batches', () => {
    const quiet = () => dispatcher(new RecordingPublisher(), new RecordingPublisher());

    it('gives a redelivered message no second effect (inbox in the same transaction)', async () => {
      const uow = new UnitOfWork(db, quiet());
      const m = msg(1);
      const work = async (tx: Tx, fresh: Envelope[]): Promise<MessageResult[]> => {
        for (const f of fresh) await effect(tx, f);
        return fresh.map(() => handled);
      };
      expect(await uow.handleBatch('payment', [m], work)).toEqual(['handled']);
      expect(await uow.handleBatch('payment', [m], work)).toEqual(['duplicate']);
      expect(await effects()).toBe(1);
    });

    it('gives concurrent duplicate deliveries exactly one effect', async () => {
      const uow = new UnitOfWork(db, quiet());
      const m = msg(1);
      const work = async (tx: Tx, fresh: Envelope[]): Promise<MessageResult[]> => {
        for (const f of fresh) await effect(tx, f);
        await sleep(20);
        return fresh.map(() => handled);
      };
      const outcomes = (await Promise.all(Array.from({ length: 6 }, () => uow.handleBatch('payment', [m], work)))).flat();
      expect(outcomes.filter((o) => o === 'handled')).toHaveLength(1);
      expect(await effects()).toBe(1);
    });

    it('shares one transaction among a batch, each message with its own inbox record and outbox row', async () => {
      const uow = new UnitOfWork(db, quiet());
      const batch = [msg(1), msg(2), msg(3)];
      let transactions = 0;
      const outcomes = await uow.handleBatch('payment', batch, async (tx, fresh) => {
        transactions++;
        for (const f of fresh) {
          await effect(tx, f);
          tx.send(msg(100 + Number((f.payload as { n: number }).n)));
        }
        return fresh.map(() => handled);
      });
      expect(outcomes).toEqual(['handled', 'handled', 'handled']);
      expect(transactions).toBe(1);
      expect(Number((await ds.query("SELECT count(*)::int AS n FROM inbox_messages WHERE consumer = 'payment'"))[0].n)).toBe(3);
    });

    it('a message the handler reports failed fails alone: the others commit, its effects and inbox record do not', async () => {
      const uow = new UnitOfWork(db, quiet());
      const [a, bad, c] = [msg(1), msg(2), msg(3)];
      const outcomes = await uow.handleBatch('payment', [a, bad, c], async (tx, fresh) => {
        const results: MessageResult[] = [];
        for (const f of fresh) {
          if (f === bad) results.push(failed(new Error('no')));
          else {
            await effect(tx, f);
            results.push(handled);
          }
        }
        return results;
      });
      expect(outcomes[0]).toBe('handled');
      expect(outcomes[1]).toBeInstanceOf(MessageFailed);
      expect(outcomes[2]).toBe('handled');
      expect(await effects()).toBe(2);
      // Its retry is not taken for a duplicate.
      const retry = await uow.handleBatch('payment', [bad], async (tx, fresh) => {
        for (const f of fresh) await effect(tx, f);
        return fresh.map(() => handled);
      });
      expect(retry).toEqual(['handled']);
    });

    it('a poison message among 32 costs a dozen transactions, not 33: the batch runs again in halves, and only it fails', async () => {
      let transactions = 0;
      const counting: SqlDatabase = {
        dialect: db.dialect,
        query: (...args) => db.query(...args),
        transaction: (work) => {
          transactions++;
          return db.transaction(work);
        },
      };
      const uow = new UnitOfWork(counting, quiet());
      const batch = Array.from({ length: 32 }, (_, i) => msg(i));
      const bad = batch[19];
      const outcomes = await uow.handleBatch('payment', batch, async (tx, fresh) => {
        for (const f of fresh) {
          if (f === bad) throw new Error('poison');
          await effect(tx, f);
        }
        return fresh.map(() => handled);
      });
      expect(outcomes.map((o, i) => (o instanceof MessageFailed ? i : -1)).filter((i) => i >= 0)).toEqual([19]);
      expect(await effects()).toBe(31);
      // 1 for the whole batch, then two per level of halving (16, 8, 4, 2, 1): 11.
      expect(transactions).toBe(11);
      // Arrival order held: the effects are in the batch's order.
      const order = (await ds.query('SELECT message_id FROM effects ORDER BY id')).map((r: { message_id: string }) => r.message_id);
      expect(order).toEqual(batch.filter((m) => m !== bad).map((m) => m.messageId));
    });

    it('a batch whose work throws runs again in parts, so only the bad one fails', async () => {
      const uow = new UnitOfWork(db, quiet());
      const [a, bad, c] = [msg(1), msg(2), msg(3)];
      const outcomes = await uow.handleBatch('payment', [a, bad, c], async (tx, fresh) => {
        for (const f of fresh) {
          if (f === bad) throw new Error('poison');
          await effect(tx, f);
        }
        return fresh.map(() => handled);
      });
      expect(outcomes[0]).toBe('handled');
      expect(outcomes[1]).toBeInstanceOf(MessageFailed);
      expect(outcomes[2]).toBe('handled');
      expect(await effects()).toBe(2);
      expect(Number((await ds.query("SELECT count(*)::int AS n FROM inbox_messages WHERE consumer = 'payment'"))[0].n)).toBe(2);
    });

    it('a message delivered twice into one batch, or handled before, has one effect', async () => {
      const uow = new UnitOfWork(db, quiet());
      const m = msg(1);
      const work = async (tx: Tx, fresh: Envelope[]): Promise<MessageResult[]> => {
        for (const f of fresh) await effect(tx, f);
        return fresh.map(() => handled);
      };
      expect(await uow.handleBatch('payment', [m, m], work)).toEqual(['handled', 'duplicate']);
      expect(await uow.handleBatch('payment', [m, msg(2)], work)).toEqual(['duplicate', 'handled']);
      expect(await effects()).toBe(2);
    });
  });
});
