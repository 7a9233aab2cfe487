import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { partitionForKey } from '@app/messaging';
import { Api, quiet, uniq } from '../support/api';
import { readArchive } from '../support/archive-read';
import { expectConserved } from '../support/conservation';
import { startDistributedSystem } from '../support/system';
import { until } from '../support/wait';
import { sleep } from '@app/platform';

/**
 * The event stream and the archive on real Kafka and Azurite, with faults: Analytics killed
 * between uploading a blob and committing its offsets, a poison event, Kafka restarted.
 */
const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const kafkaScript = join(__dirname, '..', '..', 'scripts', 'kafka.sh');
/**
 * Asynchronous on purpose: a synchronous exec blocks the event loop for the seconds Kafka takes
 * to start, and the HTTP client then reuses a keep-alive socket the server closed meanwhile
 * ("other side closed").
 */
const kafkaCtl = (command: 'up' | 'down' | 'status') => promisify(execFile)('bash', [kafkaScript, command], { timeout: 150_000 });

const verifyOk = (api: Api, minEvents: number, timeoutMs = 60_000) =>
  until(
    () => api.verifyArchive(),
    (v) => v?.ok === true && v.events >= minEvents,
    timeoutMs,
    'archive verify ok',
  );

async function placedMessageIds(api: Api, ids: string[]): Promise<string[]> {
  const orders = await Promise.all(ids.map((id) => api.order(id)));
  return orders.map((o) => o.timeline.find((t: { type: string }) => t.type === 'OrderPlaced').messageId);
}

describe('event stream and archive (distributed: Kafka + Azurite)', () => {
  // A test that times out leaves its `finally` running behind jest's back: Kafka must be up for
  // the suites after this one either way (`up` is a no-op on a running broker).
  afterAll(() => kafkaCtl('up'), 180_000);

  it('survives Analytics being killed between a blob upload and its offset commit: no duplicate, no gap', async () => {
    const sys = await startDistributedSystem({ ANALYTICS_FAULT: 'kill-after-upload', ARCHIVE_BATCH_MAX_MS: '300' });
    const api = new Api(sys);
    try {
      const sku = uniq('SKU');
      const customer = uniq('cust');
      await api.product(sku, 1, 100);
      await api.account(customer, 100);
      const ids = await Promise.all(Array.from({ length: 10 }, () => api.place(customer, [{ sku, quantity: 1 }])));
      // Analytics kills itself right after its first upload, before committing.
      const exit = await sys.exited('analytics');
      expect(exit.signal).toBe('SIGKILL');
      const before = await readArchive(sys);
      expect(before.blobs.length).toBeGreaterThanOrEqual(1);

      await sys.restart('analytics', { ANALYTICS_FAULT: '' });
      await Promise.all(ids.map((id) => api.settled(id)));
      const placed = await placedMessageIds(api, ids);
      // verify covers committed offsets; a partition's last batch may still be buffered, so
      // wait until every order's OrderPlaced is in the archive before comparing.
      await until(
        () => readArchive(sys),
        (a) => placed.every((m) => a.byMessage.has(m)),
        30_000,
        'every OrderPlaced archived',
      );
      const { verify, after } = await until(
        async () => ({ verify: await api.verifyArchive(), after: await readArchive(sys) }),
        ({ verify: v, after: a }) => v?.ok === true && v.events === a.lines,
        30_000,
        'verify to agree with the blobs',
      );
      // The blob written before the kill is still the only one for its offsets (found, not rewritten).
      for (const name of before.blobs) expect(after.blobs).toContain(name);
      expect([...after.byOffset.values()].every((n) => n === 1)).toBe(true);
      expect([...after.byMessage.values()].every((n) => n === 1)).toBe(true);
      for (const m of placed) expect(after.byMessage.get(m)).toBe(1);
      // The verify endpoint agrees with the direct read.
      expect(verify.events).toBe(after.lines);
      const summary = (await api.get('analytics', '/api/analytics/summary')).body;
      expect(summary.eventsByType.OrderPlaced).toBe(10);
    } finally {
      await sys.stop();
    }
  });

  it('sends a poison event to the retry topic and then the dead-letter topic, and its partition keeps flowing', async () => {
    const sys = await startDistributedSystem({ ARCHIVE_BATCH_MAX_MS: '300', ARCHIVE_RETRY_DELAY_MS: '300' });
    const api = new Api(sys);
    const kafka = new Kafka({ clientId: 'e2e-poison', brokers, logLevel: logLevel.NOTHING });
    const producer = kafka.producer();
    await producer.connect();
    try {
      const sku = uniq('SKU');
      const customer = uniq('cust');
      await api.product(sku, 1, 100);
      await api.account(customer, 100);
      // A record no one can read, first in partition 0 of order-events.
      await producer.send({ topic: `${sys.namespace}order-events`, messages: [{ partition: 0, key: 'poison', value: '{"this is": not json' }] });
      const ids: string[] = [];
      while (ids.filter((id) => partitionForKey(id, 6) === 0).length < 2) ids.push(await api.place(customer, [{ sku, quantity: 1 }]));
      await Promise.all(ids.map((id) => api.settled(id)));
      const placed = await placedMessageIds(api, ids);
      await verifyOk(api, placed.length);
      const archive = await until(
        () => readArchive(sys),
        (a) => placed.every((m) => a.byMessage.has(m)),
        30_000,
        'every OrderPlaced archived',
      );
      for (const m of placed) expect(archive.byMessage.get(m)).toBe(1);
      // The poison's offset is accounted for as skipped in partition 0's first blob.
      const list = (await api.get('analytics', '/api/analytics/archives')).body.items as Array<{ topic: string; partition: number; skippedOffsets: number[] }>;
      expect(list.some((b) => b.topic === 'order-events' && b.partition === 0 && b.skippedOffsets.includes(0))).toBe(true);

      // It went through the retry topic and rests in the dead-letter topic with its error.
      const dead = await until(
        () => readTopic(kafka, `${sys.namespace}analytics.dlt`),
        (r) => r.length >= 1,
        30_000,
        'the dead-letter topic',
      );
      expect(dead[0].value).toBe('{"this is": not json');
      expect(dead[0].headers['x-error']).toMatch(/JSON/);
      expect(dead[0].headers['x-original-topic']).toBe('order-events');
      expect(dead[0].headers['x-original-offset']).toBe('0');
      expect((await readTopic(kafka, `${sys.namespace}analytics.retry`)).length).toBeGreaterThanOrEqual(1);
    } finally {
      await producer.disconnect();
      await sys.stop();
    }
  });

  it('loses nothing when Kafka restarts mid-stream', async () => {
    const sys = await startDistributedSystem({ ARCHIVE_BATCH_MAX_MS: '300' });
    const api = new Api(sys);
    try {
      const sku = uniq('SKU');
      const customers = [uniq('cust'), uniq('cust')];
      await api.product(sku, 1, 1000);
      for (const c of customers) await api.account(c, 1000);
      const ids: string[] = [];
      const place = async (n: number) => {
        for (let i = 0; i < n; i++) ids.push(await api.place(customers[i % 2], [{ sku, quantity: 1 }]));
      };
      await place(10);
      await kafkaCtl('down');
      try {
        // The broker must really be gone (a broker this checkout did not start is not stopped by it).
        await expect(kafkaCtl('status')).rejects.toThrow();
        // The saga runs on RabbitMQ and goes on; Kafka-bound rows wait in the outboxes.
        await place(10);
        await sleep(2000);
      } finally {
        await kafkaCtl('up');
      }
      await place(10);
      await Promise.all(ids.map((id) => api.settled(id, 60_000)));
      await quiet(() => Promise.all(customers.map((c) => api.balance(c))));
      await expectConserved(api, ids, new Map(customers.map((c) => [c, 1000])), new Map([[sku, 1000]]));
      const placed = await placedMessageIds(api, ids);
      await verifyOk(api, placed.length, 120_000);
      const archive = await until(
        () => readArchive(sys),
        (a) => placed.every((m) => a.byMessage.has(m)),
        60_000,
        'every OrderPlaced archived',
      );
      for (const m of placed) expect(archive.byMessage.get(m)).toBe(1);
      expect([...archive.byOffset.values()].every((n) => n === 1)).toBe(true);
      const summary = await until(
        () => api.get('analytics', '/api/analytics/summary').then((r) => r.body),
        (s) => s.eventsByType.OrderPlaced === 30,
        60_000,
        'summary',
      );
      expect(summary.ordersByStatus.CONFIRMED).toBe(30);
    } finally {
      await kafkaCtl('up');
      await sys.stop();
    }
  });
});

async function readTopic(kafka: Kafka, topic: string): Promise<Array<{ value: string; headers: Record<string, string> }>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    const total = offsets.reduce((n, o) => n + Number(o.high) - Number(o.low), 0);
    if (total === 0) return [];
  } finally {
    await admin.disconnect();
  }
  const consumer = kafka.consumer({ groupId: `e2e-read-${Math.random().toString(36).slice(2)}` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const out: Array<{ value: string; headers: Record<string, string> }> = [];
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 8000);
    void consumer.run({
      eachMessage: async ({ message }) => {
        const headers = Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)]));
        out.push({ value: message.value?.toString() ?? '', headers });
        clearTimeout(timer);
        setTimeout(resolve, 500);
      },
    });
  });
  await consumer.disconnect();
  return out;
}
