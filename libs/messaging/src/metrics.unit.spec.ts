import { OrderPlaced, type Envelope } from '@app/contracts';
import { createLogger, sleep } from '@app/platform';
import { Registry } from 'prom-client';
import { MessageConsumer } from './consumer';
import { on } from './handler';
import { InMemoryTransport } from './memory/in-memory.transport';
import { ConsumerMetrics, DeadLetterMetrics, UNKNOWN_MESSAGE_TYPE } from './metrics';
import { NonRetryableError } from './recoverability';
import { orderPlaced as placed } from '../../../test/support/envelopes';

const logger = createLogger({ service: 'test', level: 'silent' });

/** A series' value; for a histogram, pass `series` ('_sum', '_count'), else the first bucket would answer. */
async function valueOf(registry: Registry, name: string, labels: Record<string, string>, series = ''): Promise<number> {
  const metric = await registry.getSingleMetric(name)?.get();
  const wanted = series ? `${name}${series}` : undefined;
  return (
    metric?.values.find((v) => (!wanted || (v as { metricName?: string }).metricName === wanted) && Object.entries(labels).every(([k, x]) => v.labels[k] === x))
      ?.value ?? 0
  );
}

const until = async (cond: () => Promise<boolean>, ms = 3000) => {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(5);
  }
};

function consumerWith(handle: (m: Envelope) => Promise<unknown>) {
  const registry = new Registry();
  const transport = new InMemoryTransport();
  const consumer = new MessageConsumer(transport, logger, {
    service: 'payment',
    queue: 'payment',
    prefetch: 4,
    recoverability: { immediateRetries: 1, delayedRetries: 2, baseDelayMs: 5, maxDelayMs: 20, jitter: 0 },
    subscriptions: [on(OrderPlaced, 'order')],
    handle,
    metrics: new ConsumerMetrics(registry, [OrderPlaced.type]),
  });
  const consumed = (outcome: string, type = 'OrderPlaced') => valueOf(registry, 'saga_messages_consumed_total', { message_type: type, outcome });
  return { registry, transport, consumer, consumed };
}

describe('consumer metrics', () => {
  it('counts each settled delivery by message type and outcome, and times it', async () => {
    const seen = new Set<string>();
    // The handler answers like the batcher: 'duplicate' when the inbox already had the message.
    const { registry, transport, consumer, consumed } = consumerWith(async (m) => (seen.has(m.messageId) ? 'duplicate' : (seen.add(m.messageId), 'handled')));
    await consumer.start();
    const m = placed(new Date(Date.now() - 2000));
    await transport.publish([{ envelope: m, routingKey: 'order.order-placed' }]);
    await transport.publish([{ envelope: m, routingKey: 'order.order-placed' }]);
    await until(async () => (await consumed('duplicate')) === 1);
    await consumer.stop();
    expect(await consumed('handled')).toBe(1);
    expect(await consumed('retried')).toBe(0);
    expect(await valueOf(registry, 'saga_message_handling_duration_seconds', { message_type: 'OrderPlaced' }, '_sum')).toBeGreaterThan(0);
    const text = await registry.metrics();
    expect(text).toContain('saga_message_handling_duration_seconds_count{message_type="OrderPlaced"} 2');
    // Critical time is observed for the handled one only: about 2 s old when handled.
    expect(text).toContain('saga_message_critical_time_seconds_count{message_type="OrderPlaced"} 1');
    expect(text).toMatch(/saga_message_critical_time_seconds_bucket\{le="1",message_type="OrderPlaced"\} 0/);
    expect(text).toMatch(/saga_message_critical_time_seconds_bucket\{le="2.5",message_type="OrderPlaced"\} 1/);
  });

  it('counts delayed retries and the dead letter that ends them', async () => {
    const { registry, transport, consumer, consumed } = consumerWith(async () => {
      throw new Error('gateway unavailable');
    });
    await consumer.start();
    await transport.publish([{ envelope: placed(), routingKey: 'order.order-placed' }]);
    await until(async () => (await consumed('dead-lettered')) === 1);
    await consumer.stop();
    expect(await consumed('retried')).toBe(2);
    expect(await consumed('handled')).toBe(0);
    // Observed once, when it ended: 2 tries (1 immediate retry) on each of 3 deliveries.
    const text = await registry.metrics();
    expect(text).toContain('saga_message_delivery_attempts_count{message_type="OrderPlaced"} 1');
    expect(text).toContain('saga_message_delivery_attempts_sum{message_type="OrderPlaced"} 6');
  });

  it('labels what is no known message "unknown", so senders cannot grow the label set', async () => {
    const { transport, consumer, consumed } = consumerWith(async () => 'handled');
    await consumer.start();
    await transport.publish([{ envelope: placed(), routingKey: 'order.order-placed', body: '{not json' }]);
    const madeUp = { ...placed(), type: `Made-Up-${Math.random()}` };
    await transport.publish([{ envelope: madeUp as Envelope, routingKey: 'order.order-placed' }]);
    await until(async () => (await consumed('dead-lettered', UNKNOWN_MESSAGE_TYPE)) === 2);
    await consumer.stop();
  });

  it('counts a delivery it could not settle as failed (the broker redelivers it)', async () => {
    const registry = new Registry();
    const consumer = new MessageConsumer(new InMemoryTransport(), logger, {
      service: 'payment',
      queue: 'payment',
      prefetch: 1,
      recoverability: { immediateRetries: 0, delayedRetries: 0, baseDelayMs: 5, maxDelayMs: 20, jitter: 0 },
      subscriptions: [on(OrderPlaced, 'order')],
      handle: async () => {
        throw new NonRetryableError('bad');
      },
      metrics: new ConsumerMetrics(registry),
    });
    const brokerDown = async () => {
      throw new Error('channel closed');
    };
    const delivery = {
      body: JSON.stringify(placed()),
      routingKey: 'order.order-placed',
      headers: {},
      deliveryCount: 1,
      ack: brokerDown,
      retryLater: brokerDown,
      deadLetter: brokerDown,
    };
    await expect(consumer.onDelivery(delivery)).rejects.toThrow('channel closed');
    expect(await valueOf(registry, 'saga_messages_consumed_total', { message_type: 'OrderPlaced', outcome: 'failed' })).toBe(1);
    expect(await valueOf(registry, 'saga_messages_consumed_total', { message_type: 'OrderPlaced', outcome: 'dead-lettered' })).toBe(0);
  });

  it('has every outcome of a subscribed type at 0 before the first delivery', async () => {
    const registry = new Registry();
    new ConsumerMetrics(registry, [OrderPlaced.type]);
    const text = await registry.metrics();
    for (const outcome of ['handled', 'duplicate', 'retried', 'dead-lettered', 'failed']) {
      expect(text).toContain(`saga_messages_consumed_total{message_type="OrderPlaced",outcome="${outcome}"} 0`);
    }
  });
});

describe('dead letters parked', () => {
  it("answers the consumer's dead-letter queue depth at scrape time while it runs", async () => {
    const { registry, transport, consumer, consumed } = consumerWith(async () => {
      throw new NonRetryableError('bad');
    });
    const parked = () => valueOf(registry, 'saga_dead_letters_parked', { store: 'bus' });
    await consumer.start();
    await transport.publish([{ envelope: placed(), routingKey: 'order.order-placed' }]);
    await transport.publish([{ envelope: placed(), routingKey: 'order.order-placed' }]);
    await until(async () => (await consumed('dead-lettered')) === 2);
    expect(await parked()).toBe(2);
    await transport.purgeDeadLetters('payment');
    expect(await parked()).toBe(0);
    await consumer.stop();
    expect((await registry.getSingleMetric('saga_dead_letters_parked')!.get()).values).toEqual([]);
  });

  it('leaves the sample out when the broker cannot say within the scrape deadline', async () => {
    const registry = new Registry();
    const metrics = new DeadLetterMetrics(registry);
    metrics.watch('bus', () => Promise.reject(new Error('RabbitMQ is not connected')));
    expect((await registry.getSingleMetric('saga_dead_letters_parked')!.get()).values).toEqual([]);
  });
});
