import { createEnvelope, OrderPlaced, PaymentDeclined, type Envelope } from '@app/contracts';
import { createLogger, sleep } from '@app/platform';
import { z } from 'zod';
import { MessageConsumer } from './consumer';
import { on, type Subscription } from './handler';
import { InMemoryTransport } from './memory/in-memory.transport';
import { NonRetryableError, type RecoverabilityOptions } from './recoverability';
import type { FailureInfo } from './transport';
import { fixtureOrderId, orderPlaced as placed } from '../../../test/support/envelopes';

const policy: RecoverabilityOptions = { immediateRetries: 2, delayedRetries: 2, baseDelayMs: 20, maxDelayMs: 100, jitter: 0 };
const logger = createLogger({ service: 'test', level: 'error' });
const orderId = fixtureOrderId;

const until = async (cond: () => boolean | Promise<boolean>, ms = 3000) => {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(5);
  }
};

function setup(
  handle: (m: Envelope) => Promise<void>,
  onDeadLetter?: (m: Envelope | null, f: FailureInfo) => Promise<void>,
  subscriptions: Array<Subscription> = [on(OrderPlaced, 'order')],
) {
  const transport = new InMemoryTransport();
  const consumer = new MessageConsumer(transport, logger, {
    service: 'payment',
    queue: 'payment',
    prefetch: 4,
    recoverability: policy,
    onDeadLetter,
    subscriptions,
    handle,
  });
  return { transport, consumer };
}

describe('consumer pipeline on the in-memory transport', () => {
  it('hands the handler the newest version: an older message upcast at the edge, a newer one retried, then dead-lettered', async () => {
    const Noted = {
      type: 'Noted',
      version: 2,
      schema: z.object({ text: z.string(), by: z.string() }),
      older: [{ version: 1, schema: z.object({ text: z.string() }), upcast: (p: { text: string }) => ({ ...p, by: 'unknown' }) }],
    } as const;
    const seen: Envelope[] = [];
    const { transport, consumer } = setup(async (m) => void seen.push(m), undefined, [on(Noted, 'order')]);
    await consumer.start();
    const note = (version: number, payload: unknown) => ({
      envelope: createEnvelope({ type: 'Noted', version, key: orderId, source: 'order', payload }),
      routingKey: 'order.noted',
    });
    await transport.publish([note(1, { text: 'a' }), note(2, { text: 'b', by: 'bob' }), note(3, { text: 'c' }), note(1, { txt: 'd' })]);
    await until(async () => seen.length === 2 && (await transport.deadLetters('payment')).length === 2);
    await consumer.stop();
    expect(seen.map((m) => [m.version, m.payload])).toEqual([
      [2, { text: 'a', by: 'unknown' }],
      [2, { text: 'b', by: 'bob' }],
    ]);
    const dead = await transport.deadLetters('payment');
    const failures = Object.fromEntries(dead.map((d) => [(JSON.parse(d.body) as Envelope).version, d.failure]));
    // Newer than this consumer: retried through the policy (a rolling deployment catches up) before it is parked.
    expect(failures[3]).toMatchObject({ nonRetryable: false, deliveries: 3, error: expect.stringContaining('Noted v3 is newer than this service knows (v2)') });
    // An old payload its own version refuses: never upcastable, parked at once.
    expect(failures[1]).toMatchObject({ nonRetryable: true, deliveries: 1, error: expect.stringContaining('invalid Noted v1 payload: text') });
  });

  it('routes by binding and acks after the handler returns', async () => {
    const seen: string[] = [];
    const { transport, consumer } = setup(async (m) => void seen.push(m.type));
    await consumer.start();
    const m = placed();
    await transport.publish([{ envelope: m, routingKey: 'order.order-placed' }]);
    await transport.publish([
      { envelope: createEnvelope({ type: PaymentDeclined.type, key: orderId, source: 'payment', payload: {} }), routingKey: 'payment.payment-declined' },
    ]);
    await until(() => seen.length === 1);
    await consumer.stop();
    expect(seen).toEqual(['OrderPlaced']);
    expect(await transport.deadLetters('payment')).toHaveLength(0);
  });

  it('retries immediately, then with delays, then dead-letters with the error, attempts and original headers', async () => {
    const calls: number[] = [];
    const hooked: Array<{ m: Envelope | null; f: FailureInfo }> = [];
    const { transport, consumer } = setup(
      async () => {
        calls.push(Date.now());
        throw new Error('gateway unavailable');
      },
      async (m, f) => void hooked.push({ m, f }),
    );
    await consumer.start();
    const m = placed();
    await transport.publish([{ envelope: m, routingKey: 'order.order-placed' }]);
    await until(async () => (await transport.deadLetters('payment')).length === 1);
    // 3 deliveries (1 + 2 delayed) × 3 invocations (1 + 2 immediate)
    expect(calls).toHaveLength(9);
    // the delayed retries wait about 20 ms then 40 ms
    expect(calls[3] - calls[2]).toBeGreaterThanOrEqual(15);
    expect(calls[6] - calls[5]).toBeGreaterThanOrEqual(35);
    const [dead] = await transport.deadLetters('payment');
    expect(dead.failure).toMatchObject({ error: 'Error: gateway unavailable', attempts: 9, deliveries: 3, nonRetryable: false });
    expect(dead.failure.stack).toContain('gateway unavailable');
    expect(dead.headers).toMatchObject({ 'message-id': m.messageId, 'message-type': 'OrderPlaced', 'x-attempts': 9 });
    expect(JSON.parse(dead.body).messageId).toBe(m.messageId);
    expect(hooked).toHaveLength(1);
    expect(hooked[0].m?.messageId).toBe(m.messageId);
    await consumer.stop();
  });

  it('succeeds on an immediate retry without a delay', async () => {
    let n = 0;
    const { transport, consumer } = setup(async () => {
      if (++n < 3) throw new Error('deadlock detected');
    });
    await consumer.start();
    await transport.publish([{ envelope: placed(), routingKey: 'order.order-placed' }]);
    await until(() => n === 3);
    await sleep(50);
    expect(n).toBe(3);
    expect(await transport.deadLetters('payment')).toHaveLength(0);
    await consumer.stop();
  });

  it('dead-letters a non-retryable error after one attempt', async () => {
    let n = 0;
    const { transport, consumer } = setup(async () => {
      n++;
      throw new NonRetryableError('business rule broken');
    });
    await consumer.start();
    await transport.publish([{ envelope: placed(), routingKey: 'order.order-placed' }]);
    await until(async () => (await transport.deadLetters('payment')).length === 1);
    expect(n).toBe(1);
    expect((await transport.deadLetters('payment'))[0].failure).toMatchObject({ attempts: 1, nonRetryable: true });
    await consumer.stop();
  });

  it('dead-letters a message whose payload fails its schema without calling the handler, and still names its saga', async () => {
    let n = 0;
    const hooked: Array<Envelope | null> = [];
    const { transport, consumer } = setup(
      async () => void n++,
      async (m) => void hooked.push(m),
    );
    await consumer.start();
    const bad = { ...placed(), payload: { orderId, customerId: 'alice', items: [], total: -1, currency: 'USD' } };
    await transport.publish([{ envelope: bad, routingKey: 'order.order-placed' }]);
    await until(async () => (await transport.deadLetters('payment')).length === 1);
    expect(n).toBe(0);
    const [dead] = await transport.deadLetters('payment');
    expect(dead.failure.error).toMatch(/invalid OrderPlaced payload/);
    expect(hooked[0]?.key).toBe(orderId);
    await consumer.stop();
  });

  it('keeps the message (retry later) when the dead-letter hook cannot record the failure', async () => {
    const { transport, consumer } = setup(
      async () => {
        throw new NonRetryableError('bad');
      },
      async () => {
        throw new Error('database down');
      },
    );
    await consumer.start();
    await transport.publish([{ envelope: placed(), routingKey: 'order.order-placed' }]);
    await sleep(50);
    expect(await transport.deadLetters('payment')).toHaveLength(0);
    await consumer.stop();
    await transport.close();
  });

  it('delivers every message twice in duplicate mode', async () => {
    const transport = new InMemoryTransport({ duplicateDelivery: true });
    const seen: string[] = [];
    const consumer = new MessageConsumer(transport, logger, {
      service: 'x',
      queue: 'x',
      prefetch: 1,
      recoverability: policy,
      subscriptions: [on(OrderPlaced, 'order')],
      handle: async (m: Envelope) => void seen.push(m.messageId),
    });
    await consumer.start();
    const m = placed();
    await transport.publish([{ envelope: m, routingKey: 'order.order-placed' }]);
    await until(() => seen.length === 2);
    expect(seen).toEqual([m.messageId, m.messageId]);
    await consumer.stop();
  });

  it('holds messages until opened, so late-declared queues still get them', async () => {
    const transport = new InMemoryTransport({ startHeld: true });
    await transport.publish([{ envelope: placed(), routingKey: 'order.order-placed' }]);
    const seen: string[] = [];
    const consumer = new MessageConsumer(transport, logger, {
      service: 'x',
      queue: 'x',
      prefetch: 1,
      recoverability: policy,
      subscriptions: [on(OrderPlaced, 'order')],
      handle: async (m: Envelope) => void seen.push(m.type),
    });
    await consumer.start();
    await transport.open();
    await until(() => seen.length === 1);
    await consumer.stop();
  });

  it('stops taking deliveries on close and waits for the one in flight', async () => {
    let release!: () => void;
    let finished = false;
    const { transport, consumer } = setup(async () => {
      await new Promise<void>((r) => (release = r));
      finished = true;
    });
    await consumer.start();
    await transport.publish([{ envelope: placed(), routingKey: 'order.order-placed' }]);
    await until(() => release !== undefined);
    const stopping = consumer.stop();
    setTimeout(() => release(), 30);
    await stopping;
    expect(finished).toBe(true);
  });
});

describe('in-memory bus drain', () => {
  it('waits until every queue is empty and nothing is in flight', async () => {
    const transport = new InMemoryTransport();
    let done = 0;
    const consumer = new MessageConsumer(transport, logger, {
      service: 'x',
      queue: 'x',
      prefetch: 2,
      recoverability: policy,
      subscriptions: [on(OrderPlaced, 'order')],
      handle: async () => {
        await sleep(20);
        done++;
      },
    });
    await consumer.start();
    await transport.publish(Array.from({ length: 5 }, () => ({ envelope: placed(), routingKey: 'order.order-placed' })));
    expect(await transport.drain(5000)).toBe(true);
    expect(done).toBe(5);
    await consumer.stop();
  });
});
