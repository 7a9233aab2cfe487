import * as amqp from 'amqplib';
import { createEnvelope, OrderPlaced, type Envelope } from '@app/contracts';
import { openDataSource, sqlDatabaseOf } from '@app/persistence';
import { createLogger, sleep } from '@app/platform';
import { createTestDatabase } from '../../../../test/support/postgres';
import { testName } from '../../../../test/support/test-run';
import { until } from '../../../../test/support/wait';
import { MessageConsumer } from '../consumer';
import { on } from '../handler';
import { messagingMigrations } from '../nest/service-kit';
import { OutboxDispatcher, defaultDispatcherOptions } from '../outbox/outbox-dispatcher';
import { NonRetryableError, type RecoverabilityOptions } from '../recoverability';
import { UnitOfWork } from '../unit-of-work';
import { RabbitMqTransport } from './rabbitmq.transport';

const url = process.env.RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const managementUrl = process.env.RABBITMQ_MANAGEMENT_URL ?? 'http://guest:guest@127.0.0.1:15672';
const logger = createLogger({ service: 'rabbitmq-it' });
const policy: RecoverabilityOptions = { immediateRetries: 1, delayedRetries: 3, baseDelayMs: 200, maxDelayMs: 2000, jitter: 0.2 };

function placed(orderId = '5c1e6f8e-9a3b-4f0e-8d3c-2b1a0f9e8d7c', n = 1): Envelope<OrderPlaced> {
  return createEnvelope({
    type: OrderPlaced.type,
    key: orderId,
    source: 'order',
    payload: { orderId, customerId: 'alice', items: [{ sku: 'KB-001', quantity: n, unitPrice: 100 }], total: 100 * n, currency: 'USD' },
  });
}

describe('RabbitMQ transport (real broker)', () => {
  const ns = `${testName('it')}.`;
  const transports: RabbitMqTransport[] = [];
  const open = async (extra: Partial<ConstructorParameters<typeof RabbitMqTransport>[0]> = {}) => {
    const t = new RabbitMqTransport({ url, namespace: ns, logger, connectTimeoutMs: 5000, ...extra });
    await t.connect();
    transports.push(t);
    return t;
  };
  const consumerOn = (t: RabbitMqTransport, queue: string, handle: (m: Envelope) => Promise<void>) =>
    new MessageConsumer(t, logger, {
      service: queue,
      queue,
      prefetch: 8,
      recoverability: policy,
      subscriptions: [on(OrderPlaced, 'order')],
      handle: handle,
    });
  const rk = 'order.order-placed';

  afterAll(async () => {
    for (const t of transports) await t.close();
    const conn = await amqp.connect(url);
    const ch = await conn.createChannel();
    for (const q of ['q1', 'q2', 'q3', 'q4', 'q5', 'q6', 'q7']) {
      for (const name of [q, `${q}.dlq`, `${q}.retry.1`, `${q}.retry.2`, `${q}.retry.3`]) await ch.deleteQueue(`${ns}${name}`).catch(() => undefined);
    }
    await ch.deleteExchange(`${ns}saga.events`).catch(() => undefined);
    await conn.close();
  });

  it('publishes with confirms, delivers by binding, and acks after the handler (nothing redelivered)', async () => {
    const t = await open();
    const seen: string[] = [];
    const c = consumerOn(t, 'q1', async (m) => void seen.push(m.messageId));
    await c.start();
    const sent = Array.from({ length: 50 }, (_, i) => placed(undefined, i + 1));
    await t.publish(sent.map((envelope) => ({ envelope, routingKey: rk })));
    await t.publish([{ envelope: placed(), routingKey: 'order.order-confirmed' }]); // not bound
    await until(
      () => seen.length,
      (n) => n === 50,
      10_000,
      'deliveries',
    );
    expect(new Set(seen)).toEqual(new Set(sent.map((m) => m.messageId)));
    await c.stop();
    // A new consumer on the same queue gets nothing: every delivery was acked.
    const again: string[] = [];
    const c2 = consumerOn(t, 'q1', async (m) => void again.push(m.messageId));
    await c2.start();
    await sleep(300);
    expect(again).toEqual([]);
    await c2.stop();
  });

  it('retries through the delay queues with backoff, then dead-letters with full metadata', async () => {
    const t = await open();
    const calls: number[] = [];
    const c = consumerOn(t, 'q2', async () => {
      calls.push(Date.now());
      throw new Error('downstream unavailable');
    });
    await c.start();
    const m = placed();
    await t.publish([{ envelope: m, routingKey: rk }]);
    const [dead] = await until(
      () => t.deadLetters('q2'),
      (d) => d.length === 1,
      15_000,
      'dead letter',
    );
    // 4 deliveries (1 + 3 delayed) × 2 invocations (1 + 1 immediate)
    expect(calls).toHaveLength(8);
    const gaps = [calls[2] - calls[1], calls[4] - calls[3], calls[6] - calls[5]];
    // nominal 200, 400, 800 ms ± 20 % jitter; allow broker and timer slack above
    expect(gaps[0]).toBeGreaterThanOrEqual(150);
    expect(gaps[0]).toBeLessThan(1000);
    expect(gaps[1]).toBeGreaterThanOrEqual(310);
    expect(gaps[1]).toBeLessThan(1300);
    expect(gaps[2]).toBeGreaterThanOrEqual(630);
    expect(gaps[2]).toBeLessThan(2000);
    expect(dead.failure).toMatchObject({ error: 'Error: downstream unavailable', attempts: 8, deliveries: 4, nonRetryable: false });
    expect(dead.failure.stack).toContain('downstream unavailable');
    expect(dead.routingKey).toBe(rk);
    expect(dead.headers).toMatchObject({
      'x-original-exchange': `${ns}saga.events`,
      'x-original-routing-key': rk,
      'message-id': m.messageId,
      'x-consumer-queue': 'q2',
    });
    expect(Date.parse(dead.failure.firstFailedAt)).toBeLessThanOrEqual(Date.parse(dead.failure.failedAt));
    expect(Date.parse(dead.deadLetteredAt)).toBeGreaterThan(0);
    expect(JSON.parse(dead.body).messageId).toBe(m.messageId);
    // still there after being listed
    expect(await t.deadLetters('q2')).toHaveLength(1);
    await c.stop();
  });

  it('skips the delays for a non-retryable error', async () => {
    const t = await open();
    let n = 0;
    const c = consumerOn(t, 'q3', async () => {
      n++;
      throw new NonRetryableError('invalid business state');
    });
    await c.start();
    await t.publish([{ envelope: placed(), routingKey: rk }]);
    const [dead] = await until(
      () => t.deadLetters('q3'),
      (d) => d.length === 1,
      5000,
      'dead letter',
    );
    expect(n).toBe(1);
    expect(dead.failure).toMatchObject({ attempts: 1, nonRetryable: true });
    await c.stop();
  });

  it('replays a dead letter to its queue with attempts reset, and purges', async () => {
    const t = await open();
    let failing = true;
    const handled: Array<{ id: string }> = [];
    const c = new MessageConsumer(t, logger, {
      service: 'q4',
      queue: 'q4',
      prefetch: 4,
      recoverability: { ...policy, delayedRetries: 0 },
      subscriptions: [on(OrderPlaced, 'order')],
      handle: async (m: Envelope) => {
        if (failing) throw new Error('not yet');
        handled.push({ id: m.messageId });
      },
    });
    await c.start();
    const a = placed();
    const b = placed();
    const d = placed();
    await t.publish([a, b, d].map((envelope) => ({ envelope, routingKey: rk })));
    const dead = await until(
      () => t.deadLetters('q4'),
      (x) => x.length === 3,
      5000,
      'three dead letters',
    );
    failing = false;
    const target = dead.find((x) => JSON.parse(x.body).messageId === a.messageId)!;
    expect(await t.replayDeadLetters('q4', target.id)).toBe(1);
    await until(
      () => handled.length,
      (n) => n === 1,
      5000,
      'replayed message handled',
    );
    expect(handled[0].id).toBe(a.messageId);
    const rest = await t.deadLetters('q4');
    expect(rest.map((x) => JSON.parse(x.body).messageId).sort()).toEqual([b.messageId, d.messageId].sort());
    const other = rest.find((x) => JSON.parse(x.body).messageId === b.messageId)!;
    expect(await t.purgeDeadLetters('q4', other.id)).toBe(1);
    expect(await t.replayDeadLetters('q4')).toBe(1);
    await until(
      () => handled.length,
      (n) => n === 2,
      5000,
      'replay all',
    );
    expect(await t.deadLetters('q4')).toEqual([]);
    // a replay that fails again is dead-lettered again with fresh attempts and the replay recorded
    failing = true;
    await t.publish([{ envelope: placed(), routingKey: rk }]);
    const [again] = await until(
      () => t.deadLetters('q4'),
      (x) => x.length === 1,
      5000,
      'dead letter',
    );
    expect(await t.replayDeadLetters('q4')).toBe(1);
    const [replayedDead] = await until(
      () => t.deadLetters('q4'),
      (x) => x.length === 1 && x[0].id !== again.id,
      5000,
      'dead again',
    );
    expect(replayedDead.headers['x-replay-count']).toBe(1);
    expect(replayedDead.failure.deliveries).toBe(1);
    expect(await t.purgeDeadLetters('q4')).toBe(1);
    await c.stop();
  });

  it('publishes every message twice when asked (duplicate delivery)', async () => {
    const t = await open({ duplicatePublish: true });
    const seen: string[] = [];
    const c = consumerOn(t, 'q5', async (m) => void seen.push(m.messageId));
    await c.start();
    const m = placed();
    await t.publish([{ envelope: m, routingKey: rk }]);
    await until(
      () => seen.length,
      (n) => n === 2,
      5000,
      'two copies',
    );
    expect(seen).toEqual([m.messageId, m.messageId]);
    await c.stop();
  });

  it('recovers from a dropped connection: reconnects, resubscribes, and keeps consuming', async () => {
    const t = await open();
    const seen: string[] = [];
    const c = consumerOn(t, 'q6', async (m) => void seen.push(m.messageId));
    await c.start();
    await t.publish([{ envelope: placed(), routingKey: rk }]);
    await until(
      () => seen.length,
      (n) => n === 1,
      5000,
      'first delivery',
    );
    // Close this transport's connection from the broker side, as an operator or a network fault would.
    const auth = { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` };
    const api = managementUrl.replace(/\/\/.*@/, '//');
    const localPort = (t as unknown as { model: { connection: { stream: { localPort: number } } } }).model.connection.stream.localPort;
    // The management API lists a connection once its first stats arrive (a few seconds).
    const name = await until(
      async () =>
        ((await (await fetch(`${api}/api/connections`, { headers: auth })).json()) as Array<{ name: string }>).find((x) => x.name.includes(`:${localPort} ->`))
          ?.name,
      Boolean,
      15_000,
      'the connection to show in the management API',
    );
    expect((await fetch(`${api}/api/connections/${encodeURIComponent(name!)}`, { method: 'DELETE', headers: auth })).status).toBe(204);
    await until(
      () => t.isReady(),
      (r) => r === false,
      5000,
      'connection lost',
    );
    await until(
      () => t.isReady(),
      (r) => r === true,
      15_000,
      'reconnected',
    );
    await t.publish([{ envelope: placed(), routingKey: rk }]);
    await until(
      () => seen.length,
      (n) => n === 2,
      10_000,
      'delivery after reconnect',
    );
    await c.stop();
  });

  it('two instances of one service publish every row once, through the broker; what one instance committed for an order arrives in its commit order', async () => {
    const db = await createTestDatabase();
    const dsA = await openDataSource({ database: { kind: 'postgres', url: db.url }, entities: [], migrations: messagingMigrations });
    const dsB = await openDataSource({ database: { kind: 'postgres', url: db.url }, entities: [], migrations: [], runMigrations: false });
    try {
      const ta = await open();
      const tb = await open();
      const received: Envelope[] = [];
      const c = new MessageConsumer(ta, logger, {
        service: 'q7',
        queue: 'q7',
        prefetch: 1,
        recoverability: policy,
        subscriptions: [on(OrderPlaced, 'order')],
        handle: async (m: Envelope) => void received.push(m),
      });
      await c.start();
      const dispatcher = (t: RabbitMqTransport, ds: typeof dsA) =>
        new OutboxDispatcher(sqlDatabaseOf(ds), logger, {
          service: 'order',
          ...defaultDispatcherOptions,
          channels: [{ name: 'bus', publisher: t, pipeline: 16 }],
        });
      const relayA = dispatcher(ta, dsA);
      const relayB = dispatcher(tb, dsB);
      relayA.start();
      relayB.start();
      const uowA = new UnitOfWork(sqlDatabaseOf(dsA), relayA);
      const uowB = new UnitOfWork(sqlDatabaseOf(dsB), relayB);
      const orders = Array.from({ length: 4 }, (_, i) => `0000000${i}-1111-4111-8111-111111111111`);
      // Per instance and order, the message ids in commit order. Across the two instances there is
      // no order to keep (two connections); the saga's deciders take either (ADR 0007).
      const expected = new Map<string, string[]>();
      for (let round = 0; round < 15; round++) {
        await Promise.all(
          orders.map((o, i) => {
            const m = placed(o, round + 1);
            const instance = (round + i) % 2 ? 'A' : 'B';
            expected.set(`${instance}:${o}`, [...(expected.get(`${instance}:${o}`) ?? []), m.messageId]);
            return (instance === 'A' ? uowA : uowB).run(async (tx) => tx.send(m));
          }),
        );
      }
      const ours = () => received.filter((m) => orders.includes(m.key));
      await until(
        () => ours().length,
        (n) => n >= 60,
        15_000,
        'all delivered',
      );
      await sleep(500);
      expect(ours()).toHaveLength(60);
      expect(new Set(ours().map((m) => m.messageId)).size).toBe(60);
      for (const [key, ids] of expected) expect([key, received.map((m) => m.messageId).filter((id) => ids.includes(id))]).toEqual([key, ids]);
      await relayA.stop();
      await relayB.stop();
      await c.stop();
    } finally {
      await dsA.destroy();
      await dsB.destroy();
      await db.drop();
    }
  });
});
