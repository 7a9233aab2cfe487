import * as amqp from 'amqplib';
import { createEnvelope, OrderPlaced, type Envelope } from '@app/contracts';
import { openDataSource, sqlDatabaseOf } from '@app/persistence';
import { createLogger, sleep, type Logger } from '@app/platform';
import { createTestDatabase } from '../../../../test/support/postgres';
import { testName } from '../../../../test/support/test-run';
import { until } from '../../../../test/support/wait';
import { MessageConsumer } from '../consumer';
import { on } from '../handler';
import { messagingMigrations } from '../nest/service-kit';
import { OutboxDispatcher, defaultDispatcherOptions } from '../outbox/outbox-dispatcher';
import { NonRetryableError, type RecoverabilityOptions } from '../recoverability';
import type { DeadLetter } from '../transport';
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
    payload: {
      orderId,
      customerId: 'alice',
      items: [{ sku: 'KB-001', quantity: n, unitPrice: 100, lineTotal: 100 * n }],
      total: 100 * n,
      currency: 'USD',
      email: null,
    },
  });
}

/** RabbitMQ's management API (the tests' window on the broker: queues, connections, policies). */
async function management(path: string, method = 'GET', body?: unknown): Promise<unknown> {
  const auth = { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}`, 'content-type': 'application/json' };
  const r = await fetch(`${managementUrl.replace(/\/\/.*@/, '//')}${path}`, {
    method,
    headers: auth,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!r.ok && !(method === 'DELETE' && r.status === 404)) throw new Error(`management ${method} ${path}: ${r.status} ${await r.text()}`);
  return r.status === 200 ? r.json() : null;
}

/** What a logger was told, to check what the transport says it did. */
function recordingLogger(): Logger & { lines: Array<{ level: string; message: string; meta?: Record<string, unknown> }> } {
  const lines: Array<{ level: string; message: string; meta?: Record<string, unknown> }> = [];
  const record =
    (level: 'debug' | 'info' | 'warn' | 'error') =>
    (message: string, meta?: Record<string, unknown>): void => {
      lines.push({ level, message, meta });
      logger[level](message, meta);
    };
  const self = { lines, debug: record('debug'), info: record('info'), warn: record('warn'), error: record('error'), child: () => self };
  return self;
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('RabbitMQ transport (real broker)', () => {
  const ns = `${testName('it')}.`;
  const transports: RabbitMqTransport[] = [];
  const policies: string[] = [];
  /** Run before the transports close (a handler still held would keep its transport from closing). */
  const afterCleanup: Array<() => void> = [];
  let opened = 0;
  const open = async (extra: Partial<ConstructorParameters<typeof RabbitMqTransport>[0]> = {}) => {
    const t = new RabbitMqTransport({ url, namespace: ns, logger, connectTimeoutMs: 5000, retryDelays: policy, service: `t${++opened}`, ...extra });
    await t.connect();
    transports.push(t);
    return t;
  };
  const consumerOn = (t: RabbitMqTransport, queue: string, handle: (m: Envelope) => Promise<void>, recoverability = policy) =>
    new MessageConsumer(t, logger, {
      service: queue,
      queue,
      prefetch: 8,
      recoverability,
      subscriptions: [on(OrderPlaced, 'order')],
      handle: handle,
    });
  const rk = 'order.order-placed';
  const queuesOf = async (prefix: string) =>
    (
      (await management('/api/queues?columns=name,messages,messages_ready,messages_unacknowledged,arguments')) as Array<{
        name: string;
        messages?: number;
        arguments: Record<string, unknown>;
      }>
    ).filter((q) => q.name.startsWith(`${ns}${prefix}`));
  /** Messages ready in a queue, from the broker itself (the management API's counts lag by seconds). */
  const ready = async (queue: string) => {
    const conn = await amqp.connect(url);
    try {
      return (await (await conn.createChannel()).checkQueue(`${ns}${queue}`)).messageCount;
    } finally {
      await conn.close();
    }
  };
  /** Closes a transport's connection from the broker side, found by its name, as an operator or a network fault would. */
  const dropConnection = async (t: RabbitMqTransport, log: ReturnType<typeof recordingLogger>, connectionName: string) => {
    const lost = () => log.lines.filter((l) => l.message === 'RabbitMQ connection lost; reconnecting').length;
    const before = lost();
    await until(
      async () => {
        // The management API lists a connection once its first stats arrive (a few seconds).
        const conns = (await management('/api/connections?columns=name,client_properties')) as Array<{
          name: string;
          client_properties?: { connection_name?: string };
        }>;
        for (const c of conns.filter((x) => x.client_properties?.connection_name === connectionName)) {
          await management(`/api/connections/${encodeURIComponent(c.name)}`, 'DELETE');
        }
        for (let i = 0; i < 50 && lost() === before; i++) await sleep(20);
        return lost() > before;
      },
      Boolean,
      20_000,
      `connection ${connectionName} to show in the management API and close`,
    );
    await until(
      () => t.isReady(),
      (r) => r === true,
      15_000,
      'reconnected',
    );
  };
  /** A broker policy on some of this run's queues (removed after the test file). */
  const applyPolicy = async (name: string, pattern: string, definition: Record<string, unknown>) => {
    policies.push(`${ns}${name}`);
    await management(`/api/policies/%2F/${encodeURIComponent(`${ns}${name}`)}`, 'PUT', { pattern, definition, 'apply-to': 'queues', priority: 100 });
  };
  const removePolicy = (name: string) => management(`/api/policies/%2F/${encodeURIComponent(`${ns}${name}`)}`, 'DELETE');

  afterAll(async () => {
    // Policies first: they outlive the run's queues, and a transport stuck closing must not keep them.
    for (const p of policies) await management(`/api/policies/%2F/${encodeURIComponent(p)}`, 'DELETE').catch(() => undefined);
    afterCleanup.forEach((cleanup) => cleanup());
    for (const t of transports) await t.close();
    for (const q of await queuesOf('')) await management(`/api/queues/%2F/${encodeURIComponent(q.name)}`, 'DELETE').catch(() => undefined);
    const conn = await amqp.connect(url);
    const ch = await conn.createChannel();
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
    // The whole depth, from the broker (what saga_dead_letters_parked shows)...
    expect(await t.deadLetterCount('q4')).toBe(3);
    // ...and the same depth in RabbitMQ's own Prometheus endpoint, which `npm run infra:up` enables.
    const dlqSample = new RegExp(`^rabbitmq_detailed_queue_messages\\{vhost="/",queue="${escapeRegExp(ns)}q4\\.dlq"\\} (\\d+)$`, 'm');
    await until(
      async () => dlqSample.exec(await (await fetch('http://127.0.0.1:15692/metrics/detailed?family=queue_coarse_metrics')).text())?.[1],
      (n) => n === '3',
      30_000,
      "the DLQ's depth in rabbitmq_prometheus",
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
    expect(await t.deadLetterCount('q4')).toBe(0);
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
    const log = recordingLogger();
    const t = await open({ service: 'reconnecting', logger: log });
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
    // Closed from the broker side by its connection name (`<namespace><service>`), as the chaos soak does.
    await dropConnection(t, log, `${ns}reconnecting`);
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

  describe('issue 12: a message that crashes its consumer', () => {
    it('is dead-lettered with its reason once the delivery limit is reached, and not handed to the handler again', async () => {
      const log = recordingLogger();
      const t = await open({ deliveryLimit: 2, service: 'crashing', logger: log });
      const deliveries: number[] = [];
      const held: Array<() => void> = [];
      // The handler never settles: each delivery "crashes the process" (its connection dies with it).
      const sub = await t.subscribe({ queue: 'q8', bindings: [rk], prefetch: 1 }, async (d) => {
        deliveries.push(Number(d.headers['x-delivery-count']) || 0);
        await new Promise<void>((resolve) => held.push(resolve));
      });
      const m = placed();
      await t.publish([{ envelope: m, routingKey: rk }]);
      afterCleanup.push(() => held.splice(0).forEach((release) => release()));
      for (let crash = 1; crash <= 2; crash++) {
        await until(
          () => deliveries.length,
          (n) => n === crash,
          15_000,
          `delivery ${crash}`,
        );
        await dropConnection(t, log, `${ns}crashing`);
        held.splice(0).forEach((release) => release());
      }
      const [dead] = await until(
        () => t.deadLetters('q8'),
        (d) => d.length === 1,
        15_000,
        'the dead letter',
      );
      expect(deliveries).toEqual([0, 1]);
      expect(dead.headers).toMatchObject({
        'x-dead-letter-reason': 'delivery-limit',
        'message-id': m.messageId,
        'x-original-routing-key': rk,
        'x-consumer-queue': 'q8',
      });
      expect(dead.failure).toMatchObject({ nonRetryable: true, error: expect.stringContaining('delivery limit') });
      expect(JSON.parse(dead.body).messageId).toBe(m.messageId);
      await sleep(300);
      expect(deliveries).toEqual([0, 1]);
      expect(await ready('q8')).toBe(0);
      await sub.close();
    });

    it('is dead-lettered by the queue itself past x-delivery-limit when the transport cannot check (another client returns it)', async () => {
      const t = await open({ deliveryLimit: 2, topology: { q9: [rk] } });
      const [queue] = (await queuesOf('q9')).filter((q) => q.name === `${ns}q9`);
      expect(queue.arguments).toMatchObject({ 'x-queue-type': 'quorum', 'x-delivery-limit': 2, 'x-dead-letter-routing-key': `${ns}q9.dlq` });
      const m = placed();
      await t.publish([{ envelope: m, routingKey: rk }]);
      const conn = await amqp.connect(url);
      try {
        const ch = await conn.createChannel();
        let returned = 0;
        await ch.consume(`${ns}q9`, (msg) => {
          if (!msg) return;
          returned++;
          ch.nack(msg, false, true);
        });
        const [dead] = await until(
          () => t.deadLetters('q9'),
          (d) => d.length === 1,
          10_000,
          'the dead letter',
        );
        expect(returned).toBe(3);
        expect(dead.id).toBe(m.messageId);
        expect(dead.routingKey).toBe(rk);
        expect(dead.failure).toMatchObject({ nonRetryable: true, error: expect.stringContaining('delivery limit') });
        expect(Date.parse(dead.deadLetteredAt)).toBeGreaterThan(0);
      } finally {
        await conn.close();
      }
    });
  });

  it('starts on a queue an earlier version declared without a delivery limit: warns, consumes, and still dead-letters at the limit', async () => {
    // As the previous transport declared it: a quorum queue with no other argument.
    const conn = await amqp.connect(url);
    await (await conn.createChannel()).assertQueue(`${ns}q14`, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
    await conn.close();
    const log = recordingLogger();
    const t = await open({ logger: log, deliveryLimit: 1, requeueBackoff: { baseMs: 50, maxMs: 50 }, topology: { q14: [rk] } });
    expect(log.lines.filter((l) => l.level === 'warn')).toEqual([
      expect.objectContaining({
        message: 'queue declared earlier without this delivery limit; the broker will not enforce it unless a policy does',
        meta: expect.objectContaining({ queue: `${ns}q14` }),
      }),
    ]);
    expect(((await queuesOf('q14')).find((q) => q.name === `${ns}q14`)?.arguments ?? {})['x-delivery-limit']).toBeUndefined();
    let handled = 0;
    const sub = await t.subscribe({ queue: 'q14', bindings: [rk], prefetch: 1 }, async () => {
      handled++;
      throw new Error('the process would have died here');
    });
    const m = placed();
    await t.publish([{ envelope: m, routingKey: rk }]);
    const [dead] = await until(
      () => t.deadLetters('q14'),
      (d) => d.length === 1,
      10_000,
      'the dead letter',
    );
    expect(handled).toBe(1);
    expect(dead.headers).toMatchObject({ 'message-id': m.messageId, 'x-dead-letter-reason': 'delivery-limit' });
    await sub.close();
  });

  describe('issue 12: delay tiers', () => {
    const failure = (deliveries: number) => {
      const now = new Date().toISOString();
      return { error: 'Error: later', attempts: 1, deliveries, nonRetryable: false, firstFailedAt: now, failedAt: now };
    };

    it('does not hold a 1 s retry back behind a 60 s one', async () => {
      const t = await open({ retryDelays: { baseDelayMs: 1000, maxDelayMs: 60_000, jitter: 0.2 } });
      const slow = placed();
      const fast = placed();
      const retried = new Map<string, number>();
      const parked = new Set<string>();
      const sub = await t.subscribe({ queue: 'q10', bindings: [rk], prefetch: 8 }, async (d) => {
        const id = String(d.headers['message-id']);
        if (d.deliveryCount === 1) {
          await d.retryLater(id === slow.messageId ? 60_000 : 1000, failure(1));
          parked.add(id);
        } else {
          retried.set(id, Date.now());
          await d.ack();
        }
      });
      await t.publish([{ envelope: slow, routingKey: rk }]);
      // The 60 s retry is parked first (its copy confirmed)...
      await until(() => parked.has(slow.messageId), Boolean, 10_000, 'the slow retry parked');
      const sent = Date.now();
      await t.publish([{ envelope: fast, routingKey: rk }]);
      // ...and the 1 s one, parked behind it, comes back after about 1 s all the same.
      await until(() => retried.has(fast.messageId), Boolean, 8000, 'the 1 s retry');
      expect(retried.get(fast.messageId)! - sent).toBeGreaterThanOrEqual(700);
      expect(retried.has(slow.messageId)).toBe(false);
      await sub.close();
    });

    it('keeps one fixed set of delay queues however many retries a message needs', async () => {
      const many: RecoverabilityOptions = { immediateRetries: 0, delayedRetries: 9, baseDelayMs: 20, maxDelayMs: 80, jitter: 0.2 };
      const t = await open({ retryDelays: many });
      let calls = 0;
      const c = consumerOn(
        t,
        'q11',
        async () => {
          calls++;
          throw new Error('downstream unavailable');
        },
        many,
      );
      await c.start();
      await t.publish([{ envelope: placed(), routingKey: rk }]);
      const [dead] = await until(
        () => t.deadLetters('q11'),
        (d) => d.length === 1,
        15_000,
        'dead letter',
      );
      expect(calls).toBe(10);
      expect(dead.failure.deliveries).toBe(10);
      // Tiers 24, 48 and 96 ms (steps 20, 40, 80 ms at +20 %): three queues for nine retries.
      const retryQueues = (await queuesOf('q11.retry.')).map((q) => q.name).sort();
      expect(retryQueues).toEqual([`${ns}q11.retry.24ms`, `${ns}q11.retry.48ms`, `${ns}q11.retry.96ms`].sort());
      expect(dead.headers['x-dead-letter-reason']).toBe('retries-exhausted');
      for (const q of await queuesOf('q11.retry.')) expect(q.arguments).toMatchObject({ 'x-queue-type': 'classic', 'x-dead-letter-routing-key': `${ns}q11` });
      await c.stop();
    });
  });

  describe('issue 12: a retry or dead-letter copy the broker refuses', () => {
    const requeueBackoff = { baseMs: 300, maxMs: 300 };
    const refuse = (name: string, queues: string) => applyPolicy(name, `^${escapeRegExp(`${ns}${queues}`)}`, { 'max-length': 0, overflow: 'reject-publish' });

    it('leaves the original unacked, says so, requeues it after a pause, and it is retried once the broker accepts again', async () => {
      const log = recordingLogger();
      const t = await open({ logger: log, requeueBackoff });
      let failing = true;
      const calls: Array<{ at: number; deliveryCount: number }> = [];
      const handled: string[] = [];
      const m = placed();
      const sub = await t.subscribe({ queue: 'q12', bindings: [rk], prefetch: 4 }, async (d) => {
        calls.push({ at: Date.now(), deliveryCount: d.deliveryCount });
        if (!failing) return d.ack().then(() => void handled.push(String(d.headers['message-id'])));
        const now = new Date().toISOString();
        await d.retryLater(50, {
          error: 'Error: downstream unavailable',
          attempts: 1,
          deliveries: d.deliveryCount,
          nonRetryable: false,
          firstFailedAt: now,
          failedAt: now,
        });
      });
      // Every delay queue of q12 refuses every publish (a full queue that rejects, a real broker nack).
      await refuse('q12-retry-full', 'q12.retry.');
      await sleep(500); // policies apply asynchronously
      const started = Date.now();
      await t.publish([{ envelope: m, routingKey: rk }]);
      await until(
        () => calls.length,
        (n) => n >= 3,
        5000,
        'redeliveries of the refused message',
      );
      await sleep(600);
      const elapsed = Date.now() - started;
      // Requeued after its pause each time (300 ms), not in a tight loop; never copied, so never counted as a delayed retry.
      expect(calls.length).toBeLessThanOrEqual(Math.ceil(elapsed / 300) + 1);
      expect(calls.every((c) => c.deliveryCount === 1)).toBe(true);
      const refused = log.lines.filter((l) => l.message === 'retry copy not confirmed; the message was not acked');
      expect(refused.length).toBeGreaterThanOrEqual(2);
      expect(refused[0]).toMatchObject({ level: 'warn', meta: { queue: 'q12', messageId: m.messageId, requeue: 'nack with requeue in 300 ms' } });
      expect(String(refused[0].meta?.error)).toMatch(new RegExp(`retry copy to ${escapeRegExp(ns)}q12\\.retry\\.\\d+ms not confirmed`));
      // No copy went anywhere meanwhile; the original is held or back in its queue (handled below).
      for (const tier of t.topology.tiers) expect(await ready(`q12.retry.${tier}ms`)).toBe(0);
      await removePolicy('q12-retry-full');
      await sleep(500);
      failing = false;
      await until(
        () => handled,
        (h) => h.length === 1,
        5000,
        'handled once the broker accepts',
      );
      expect(handled).toEqual([m.messageId]);
      await sub.close();
    });

    it('does the same for a dead-letter copy, which reaches the DLQ once the broker accepts it', async () => {
      const log = recordingLogger();
      const t = await open({ logger: log, requeueBackoff });
      const c = new MessageConsumer(t, logger, {
        service: 'q13',
        queue: 'q13',
        prefetch: 4,
        recoverability: policy,
        subscriptions: [on(OrderPlaced, 'order')],
        handle: async () => {
          throw new NonRetryableError('invalid business state');
        },
      });
      await c.start();
      // A quorum queue takes one message past max-length 0, then refuses: fill it first.
      await refuse('q13-dlq-full', 'q13.dlq');
      await sleep(500);
      const filler = await amqp.connect(url);
      const fill = await filler.createConfirmChannel();
      fill.sendToQueue(`${ns}q13.dlq`, Buffer.from('{}'), { persistent: true, messageId: 'filler' });
      await fill.waitForConfirms();
      await filler.close();
      const m = placed();
      await t.publish([{ envelope: m, routingKey: rk }]);
      const refused = await until(
        () => log.lines.filter((l) => l.message === 'dead-letter copy not confirmed; the message was not acked'),
        (r) => r.length >= 2,
        5000,
        'the refused dead-letter copies',
      );
      expect(refused[0].meta).toMatchObject({ queue: 'q13', messageId: m.messageId, requeue: 'nack with requeue in 300 ms' });
      // Room in the dead-letter queue again, as an operator would make it.
      expect(await t.purgeDeadLetters('q13')).toBe(1);
      const ours = (d: DeadLetter[]) => d.filter((x) => x.headers['message-id'] === m.messageId);
      const [dead] = await until(
        async () => ours(await t.deadLetters('q13')),
        (d) => d.length === 1,
        5000,
        'the dead letter',
      );
      expect(dead.headers).toMatchObject({ 'message-id': m.messageId, 'x-dead-letter-reason': 'non-retryable' });
      // Settled by that copy: neither redelivered nor dead-lettered twice.
      const refusals = log.lines.length;
      await sleep(1000);
      expect(ours(await t.deadLetters('q13'))).toHaveLength(1);
      expect(await ready('q13')).toBe(0);
      expect(log.lines.slice(refusals).filter((l) => l.level === 'warn')).toEqual([]);
      await c.stop();
    });
  });
});
