import { Kafka, logLevel } from 'kafkajs';
import { createEnvelope, type Envelope } from '@app/contracts';
import {
  DeadLettersController,
  KafkaEventStream,
  NamespacedEventStream,
  type ConsumeOptions,
  type StreamConsumerHandle,
  type StreamRecord,
} from '@app/messaging';
import { openDataSource, sqlDatabaseOf } from '@app/persistence';
import { createLogger } from '@app/platform';
import type { DataSource } from 'typeorm';
import { createTestDatabase } from '../../../../test/support/postgres';
import { testName } from '../../../../test/support/test-run';
import { until } from '../../../../test/support/wait';
import { DEAD_LETTER_TOPIC, RETRY_TOPIC } from '../archive/archive.topics';
import { Archiver } from '../archive/archiver';
import { ParkedDeadLetters1765065600000 } from '../migrations/1765065600000-parked-dead-letters';
import { DeadLetterParking } from './dead-letter-parking';
import { ParkedDeadLetters } from './parked-dead-letters';

const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const logger = createLogger({ service: 'analytics-dead-letters-it' });
const GROUP = 'analytics';
const PARKING_GROUP = `${GROUP}.dead-letters`;

type Listed = { id: string; routingKey: string; message: unknown; headers: Record<string, unknown>; failure: { error: string; attempts: number } };
type Page = { queue: string; items: Listed[]; count: number; nextCursor: string | null };

/**
 * Analytics' dead letters end to end on a real Kafka and a real PostgreSQL: the archiver routes
 * a poison record through the retry topic to the dead-letter topic, the parking consumer parks
 * it, and the admin API's controller lists, shows, replays and purges it.
 */
describe('Analytics dead letters (real Kafka and PostgreSQL)', () => {
  const ns = `${testName('it')}.`;
  let kafka: KafkaEventStream;
  let stream: NamespacedEventStream;
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let ds: DataSource;
  let parked: ParkedDeadLetters;
  let archiver: Archiver;
  let parking: DeadLetterParking | undefined;
  const handles: StreamConsumerHandle[] = [];
  let api: DeadLettersController;
  const projected: Envelope[] = [];
  const retried: StreamRecord[] = [];

  const all = async (): Promise<Listed[]> => ((await api.list({ limit: '200' })) as Page).items;
  const startParking = async (on: Pick<KafkaEventStream, 'consume'> = stream) => {
    const p = new DeadLetterParking(on, parked, logger, { groupId: PARKING_GROUP, topic: DEAD_LETTER_TOPIC });
    p.start();
    expect(await p.started()).toBe(true);
    return p;
  };
  /** A record as the archiver writes it to the dead-letter topic (an event that did not read when it was first read). */
  const deadLettered = (envelope: Envelope, offset: number) => ({
    key: envelope.key,
    value: JSON.stringify(envelope),
    headers: {
      'message-id': envelope.messageId,
      'message-type': envelope.type,
      'x-error': 'invalid envelope: version: too new',
      'x-original-topic': 'order-events',
      'x-original-partition': '0',
      'x-original-offset': String(offset),
      'x-attempts': '2',
      'x-failed-at': new Date().toISOString(),
    },
  });
  const event = () => createEnvelope({ type: 'AnalyticsProbe', key: `o-${Math.random()}`, source: 'order', payload: { n: 1 } });

  beforeAll(async () => {
    database = await createTestDatabase('saga_it_dead_letters');
    ds = await openDataSource({ database: { kind: 'postgres', url: database.url }, entities: [], migrations: [ParkedDeadLetters1765065600000] });
    kafka = new KafkaEventStream({ brokers, clientId: ns, logger, connectTimeoutMs: 60_000, sessionTimeoutMs: 10_000 });
    await kafka.connect();
    stream = new NamespacedEventStream(kafka, ns);
    await stream.ensureTopics([
      { topic: 'order-events', partitions: 1 },
      { topic: RETRY_TOPIC, partitions: 1 },
      { topic: DEAD_LETTER_TOPIC, partitions: 1 },
    ]);
    parked = new ParkedDeadLetters(sqlDatabaseOf(ds), stream, RETRY_TOPIC);
    api = new DeadLettersController(parked);
    archiver = new Archiver(stream, null, async (events) => void projected.push(...events), logger, {
      groupId: GROUP,
      eventTopics: ['order-events'],
      retryTopic: RETRY_TOPIC,
      deadLetterTopic: DEAD_LETTER_TOPIC,
      batchMaxEvents: 50,
      batchMaxMs: 100,
      retryDelayMs: 100,
    });
    await archiver.start();
    // What reaches the retry topic (the replays among it).
    handles.push(await stream.consume({ groupId: 'probe', topics: [RETRY_TOPIC], onBatch: async (b) => void retried.push(...b.records) } as ConsumeOptions));
    parking = await startParking();
  }, 120_000);

  afterAll(async () => {
    await parking?.stop();
    for (const h of handles) await h.stop().catch(() => undefined);
    await archiver?.stop();
    await kafka?.close();
    const admin = new Kafka({ clientId: `${ns}cleanup`, brokers, logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    await admin.deleteGroups([GROUP, PARKING_GROUP, 'probe'].map((g) => `${ns}${g}`)).catch(() => undefined);
    await admin.deleteTopics({ topics: ['order-events', RETRY_TOPIC, DEAD_LETTER_TOPIC].map((t) => `${ns}${t}`) }).catch(() => undefined);
    await admin.disconnect();
    await ds?.destroy();
    await database?.drop();
  }, 120_000);

  it('lists a poison event, dead-lettered through the retry topic, with its failure', async () => {
    await stream.produce('order-events', [{ key: 'order-1', value: '{not json', headers: { 'message-id': 'm-poison-1', 'message-type': 'OrderPlaced' } }]);
    const [item] = await until(all, (items) => items.length === 1, 30_000, 'the poison event to be parked');
    expect(item).toMatchObject({
      id: expect.stringMatching(/^analytics:\d+$/),
      queue: 'analytics',
      routingKey: 'order-events',
      message: '{not json',
      failure: { error: 'not valid JSON', attempts: 2, deliveries: 2, nonRetryable: false },
      headers: {
        'message-type': 'OrderPlaced',
        'message-id': 'm-poison-1',
        'x-original-topic': 'order-events',
        'x-original-offset': '0',
        'kafka-topic': DEAD_LETTER_TOPIC,
        'kafka-key': 'order-1',
      },
    });
    expect(await api.show(item.id)).toEqual(item);
    expect(await parked.count()).toBe(1);
  });

  it('pages the list oldest first, with a cursor', async () => {
    await stream.produce('order-events', [
      { key: 'order-2', value: '{"not":"an envelope"}' },
      { key: 'order-3', value: 'null' },
    ]);
    const everything = await until(all, (items) => items.length === 3, 30_000, 'three parked dead letters');
    const first = (await api.list({ limit: '2' })) as Page;
    expect(first.count).toBe(2);
    expect(first.nextCursor).not.toBeNull();
    const second = (await api.list({ limit: '2', cursor: first.nextCursor! })) as Page;
    expect(second).toMatchObject({ count: 1, nextCursor: null });
    expect([...first.items, ...second.items].map((d) => d.id)).toEqual(everything.map((d) => d.id));
    expect(everything.map((d) => d.headers['kafka-key'])).toEqual(['order-1', 'order-2', 'order-3']);
  });

  it('replays through the retry topic: gone from the list, archived if it reads now, parked again if it does not', async () => {
    const good = event();
    await stream.produce(DEAD_LETTER_TOPIC, [deadLettered(good, 41)]);
    const readable = (await until(all, (items) => items.some((d) => d.headers['message-id'] === good.messageId), 30_000, 'the record to be parked')).find(
      (d) => d.headers['message-id'] === good.messageId,
    )!;
    const poison = (await all()).find((d) => d.headers['kafka-key'] === 'order-1')!;

    expect(await api.replayOne(readable.id)).toEqual({ queue: 'analytics', replayed: 1 });
    expect(await api.replayOne(poison.id)).toEqual({ queue: 'analytics', replayed: 1 });
    await expect(api.show(readable.id)).rejects.toMatchObject({ status: 404 });
    await expect(api.replayOne(poison.id)).rejects.toMatchObject({ status: 404 });

    // Both went back through the retry topic, due at once, from their first origin.
    const replays = await until(
      () => retried.filter((r) => r.headers['x-replayed-at']),
      (r) => r.length === 2,
      30_000,
      'the replays on the retry topic',
    );
    expect(replays.map((r) => [r.value, r.headers['x-original-offset']])).toEqual([
      [JSON.stringify(good), '41'],
      ['{not json', '0'],
    ]);
    // The one that reads now is projected (and would be archived) ...
    await until(() => projected.some((e) => e.messageId === good.messageId), Boolean, 30_000, 'the replayed event to be projected');
    // ... and the poison one is dead-lettered again, one attempt more, as a new dead letter.
    const again = await until(
      async () => (await all()).find((d) => d.headers['kafka-key'] === 'order-1'),
      (d) => d !== undefined,
      30_000,
      'the poison event parked again',
    );
    expect(again!.id).not.toBe(poison.id);
    expect(again).toMatchObject({ failure: { attempts: 3 }, headers: { 'x-original-offset': '0' } });
    expect((await all()).some((d) => d.headers['message-id'] === good.messageId)).toBe(false);
  });

  it('parks a record read again (its consumer stopped before committing) once', async () => {
    await parking!.stop();
    parking = undefined;
    const before = (await all()).length;
    // A parking consumer that dies after its database commit and before its Kafka commit.
    const uncommitting: Pick<KafkaEventStream, 'consume'> = {
      consume: (options) =>
        stream.consume({ ...options, onBatch: (batch, consumer) => options.onBatch(batch, { ...consumer, commit: async () => undefined }) }),
    };
    const dying = await startParking(uncommitting);
    const once = event();
    await stream.produce(DEAD_LETTER_TOPIC, [deadLettered(once, 7)]);
    await until(all, (items) => items.length === before + 1, 30_000, 'the record to be parked');
    await dying.stop();

    parking = await startParking();
    const after = event();
    await stream.produce(DEAD_LETTER_TOPIC, [deadLettered(after, 8)]);
    const items = await until(all, (list) => list.some((d) => d.headers['message-id'] === after.messageId), 30_000, 'the next record to be parked');
    expect(items.filter((d) => d.headers['message-id'] === once.messageId)).toHaveLength(1);
    expect(items).toHaveLength(before + 2);
  });

  it('purges one, then all', async () => {
    const items = await all();
    expect(items.length).toBeGreaterThanOrEqual(2);
    expect(await api.purgeOne(items[0].id)).toEqual({ queue: 'analytics', purged: 1 });
    await expect(api.show(items[0].id)).rejects.toMatchObject({ status: 404 });
    await expect(api.purgeOne(items[0].id)).rejects.toMatchObject({ status: 404 });
    await expect(api.purgeOne('payment:1f2e3d4c')).rejects.toMatchObject({ status: 404 });
    expect(await api.purgeAll()).toEqual({ queue: 'analytics', purged: items.length - 1 });
    expect(await all()).toEqual([]);
    expect(await parked.count()).toBe(0);
  });
});
