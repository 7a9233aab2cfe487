import { gunzipSync } from 'node:zlib';
import { BlobServiceClient } from '@azure/storage-blob';
import { Kafka, logLevel } from 'kafkajs';

/** What a direct read of every archive blob finds: counts per messageId and per Kafka offset. */
export interface ArchiveRead {
  lines: number;
  byMessage: Map<string, number>;
  byOffset: Map<string, number>;
  blobs: string[];
}

/** Reads every blob of an archive container, bypassing Analytics (what an auditor would do). */
export async function readArchive(sys: { blobConnectionString: string; archiveContainer: string }): Promise<ArchiveRead> {
  const container = BlobServiceClient.fromConnectionString(sys.blobConnectionString).getContainerClient(sys.archiveContainer);
  const out: ArchiveRead = { lines: 0, byMessage: new Map(), byOffset: new Map(), blobs: [] };
  if (!(await container.exists())) return out;
  for await (const b of container.listBlobsFlat({ prefix: 'events/' })) {
    out.blobs.push(b.name);
    const text = gunzipSync(await container.getBlobClient(b.name).downloadToBuffer()).toString('utf8');
    for (const line of text.split('\n').filter(Boolean)) {
      const r = JSON.parse(line) as { topic: string; partition: number; offset: number; event: { messageId: string } };
      out.lines++;
      out.byMessage.set(r.event.messageId, (out.byMessage.get(r.event.messageId) ?? 0) + 1);
      const k = `${r.topic}#${r.partition}#${r.offset}`;
      out.byOffset.set(k, (out.byOffset.get(k) ?? 0) + 1);
    }
  }
  return out;
}

export interface TopicRecord {
  topic: string;
  messageId: string | null;
  headers: Record<string, string>;
  value: string;
}

/**
 * Every record of some topics, from the beginning to the high watermark read first (a group of
 * its own, removed with the namespace): the `message-id` header of each, its headers and value.
 */
export async function readTopics(brokers: string[], topics: string[]): Promise<TopicRecord[]> {
  const kafka = new Kafka({ clientId: 'test-read', brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const remaining = new Map<string, number>();
  try {
    for (const topic of topics) {
      for (const o of await admin.fetchTopicOffsets(topic)) {
        const n = Number(o.high) - Number(o.low);
        if (n > 0) remaining.set(`${topic}#${o.partition}`, Number(o.high));
      }
    }
  } finally {
    await admin.disconnect();
  }
  const out: TopicRecord[] = [];
  if (remaining.size === 0) return out;
  const groupId = `${topics[0].split('.').slice(0, -1).join('.')}.test-read-${Math.random().toString(36).slice(2)}`;
  const consumer = kafka.consumer({ groupId });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`reading ${topics.join(', ')}: ${remaining.size} partitions not read to their end within 60 s`)), 60_000);
      void consumer.run({
        eachMessage: async ({ topic, partition, message }) => {
          const headers = Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)]));
          out.push({ topic, messageId: headers['message-id'] ?? null, headers, value: message.value?.toString('utf8') ?? '' });
          const k = `${topic}#${partition}`;
          if (Number(message.offset) + 1 >= (remaining.get(k) ?? 0)) remaining.delete(k);
          if (remaining.size === 0) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return out;
}
