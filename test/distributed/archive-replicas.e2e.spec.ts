import { BlobServiceClient } from '@azure/storage-blob';
import { gunzipSync } from 'node:zlib';
import { Kafka, logLevel } from 'kafkajs';
import { Api, uniq } from '../support/api';
import { readArchive } from '../support/archive-read';
import { startDistributedSystem } from '../support/system';
import { until } from '../support/wait';

/**
 * The archive with two Analytics instances in one consumer group, on real Kafka and Azurite:
 * partitions move between them while blobs are being uploaded (a second instance joins, the
 * first is SIGKILLed and comes back), and a record the outbox streamed twice arrives. The
 * archive must still hold each offset once and each messageId once (ADR 0008).
 */
const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');

describe('the archive with two Analytics instances (distributed: Kafka + Azurite)', () => {
  it('holds every offset and every messageId once across rebalances, a SIGKILL and a record streamed twice', async () => {
    const sys = await startDistributedSystem({ ARCHIVE_BATCH_MAX_MS: '200', ARCHIVE_BATCH_MAX_EVENTS: '7' });
    const api = new Api(sys);
    const kafka = new Kafka({ clientId: 'archive-replicas-test', brokers, logLevel: logLevel.NOTHING });
    const producer = kafka.producer();
    try {
      const sku = uniq('SKU');
      const customer = uniq('cust');
      await api.product(sku, 1, 1000);
      await api.account(customer, 1000);
      const placeWave = () => Promise.all(Array.from({ length: 15 }, () => api.place(customer, [{ sku, quantity: 1 }])));

      const ids = await placeWave();
      // A second member joins while the first is archiving: the group rebalances mid-upload.
      const second = await sys.addInstance('analytics');
      ids.push(...(await placeWave()));
      // The first dies without leaving the group; its partitions move once its session expires.
      await sys.kill('analytics', 'SIGKILL');
      ids.push(...(await placeWave()));
      await sys.restart('analytics');
      ids.push(...(await placeWave()));
      await Promise.all(ids.map((id) => api.settled(id)));

      // The outbox streams an event twice (a crash between Kafka's ack and the outbox update):
      // the same envelope again, same key, same topic.
      const order = await api.order(ids[0]);
      const placed = order.timeline.find((t: { type: string }) => t.type === 'OrderPlaced');
      const archived = await until(
        () => readArchive(sys),
        (a) => a.byMessage.has(placed.messageId),
        60_000,
        'the first OrderPlaced archived',
      );
      expect(archived.byMessage.get(placed.messageId)).toBe(1);
      await producer.connect();
      const envelope = await findEnvelope(sys, placed.messageId);
      await producer.send({
        topic: `${sys.namespace}order-events`,
        messages: [
          { key: envelope.key, value: JSON.stringify(envelope), headers: { 'message-id': envelope.messageId, 'message-type': envelope.type, source: 'order' } },
        ],
      });
      ids.push(...(await placeWave()));
      await Promise.all(ids.map((id) => api.settled(id)));
      // The second copy is archived as a duplicate offset of its blob, not as a second line.
      await until(
        () => duplicateOffsets(sys),
        (n) => n > 0,
        60_000,
        'the second copy archived as a duplicate offset',
      );

      const placedIds = (await Promise.all(ids.map((id) => api.order(id)))).map(
        (o) => o.timeline.find((t: { type: string }) => t.type === 'OrderPlaced').messageId as string,
      );
      const { verify, after } = await until(
        async () => ({ verify: await api.verifyArchive(60_000), after: await readArchive(sys) }),
        ({ verify: v, after: a }) => v?.ok === true && placedIds.every((m) => a.byMessage.has(m)) && v.events === a.lines,
        90_000,
        'every OrderPlaced archived and verify to agree with the blobs',
      );
      expect([...after.byOffset.entries()].filter(([, n]) => n > 1)).toEqual([]);
      expect([...after.byMessage.entries()].filter(([, n]) => n > 1)).toEqual([]);
      expect(verify.duplicateMessages).toEqual([]);
      await second.stop();
    } finally {
      await producer.disconnect().catch(() => undefined);
      await sys.stop();
    }
  }, 300_000);
});

/** The envelope of an archived event, as its blob holds it. */
async function findEnvelope(sys: { blobConnectionString: string; archiveContainer: string }, messageId: string) {
  const container = BlobServiceClient.fromConnectionString(sys.blobConnectionString).getContainerClient(sys.archiveContainer);
  for await (const b of container.listBlobsFlat({ prefix: 'events/' })) {
    const text = gunzipSync(await container.getBlobClient(b.name).downloadToBuffer()).toString('utf8');
    for (const line of text.split('\n').filter(Boolean)) {
      const r = JSON.parse(line) as { event: { messageId: string; key: string; type: string } };
      if (r.event.messageId === messageId) return r.event;
    }
  }
  throw new Error(`${messageId} is in no blob`);
}

/** How many offsets the archive's blobs record as duplicates of an event held elsewhere. */
async function duplicateOffsets(sys: { blobConnectionString: string; archiveContainer: string }): Promise<number> {
  const container = BlobServiceClient.fromConnectionString(sys.blobConnectionString).getContainerClient(sys.archiveContainer);
  let n = 0;
  for await (const b of container.listBlobsFlat({ prefix: 'events/', includeMetadata: true }))
    n += (b.metadata?.duplicateoffsets ?? '').split(',').filter(Boolean).length;
  return n;
}
