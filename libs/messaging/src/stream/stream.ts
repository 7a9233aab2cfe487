import type { Envelope } from '@app/contracts';
import type { Publisher } from '../transport';

/**
 * The event-stream seam: Kafka in production, an in-memory partitioned log in the embedded
 * mode. As a Publisher it takes outbox rows: each envelope goes to `<source>-events`, keyed by
 * the envelope's key (the order id) so one order's events stay in one partition, in order.
 * Broker client types (kafkajs) stay inside the Kafka adapter.
 */
export interface StreamRecord {
  topic: string;
  partition: number;
  offset: number;
  key: string | null;
  value: string;
  /** Producer timestamp (ms since epoch); stable when a record is read again. */
  timestamp: number;
  headers: Record<string, string>;
}

export interface StreamBatch {
  topic: string;
  partition: number;
  records: StreamRecord[];
}

export interface TopicPartitionOffset {
  topic: string;
  partition: number;
  /** The next offset to read (Kafka's committed-offset convention). */
  offset: number;
}

export interface ConsumeOptions {
  groupId: string;
  topics: string[];
  /**
   * Called with records in offset order, never concurrently for one partition. The position
   * advances past what it returns; nothing is committed unless the consumer calls `commit`.
   */
  onBatch(batch: StreamBatch, consumer: StreamConsumerHandle): Promise<void>;
  /** Partitions taken away (rebalance, stop): drop their uncommitted state. */
  onRevoked?(partitions: Array<{ topic: string; partition: number }>): Promise<void>;
}

export interface StreamConsumerHandle {
  /** Durably records the group's position; after a restart, reading resumes there. */
  commit(offsets: TopicPartitionOffset[]): Promise<void>;
  stop(): Promise<void>;
}

export interface PartitionWatermarks {
  partition: number;
  /** Earliest offset still in the log. */
  low: number;
  /** Offset the next record will get. */
  high: number;
}

export interface ProducedRecord {
  key: string | null;
  value: string;
  headers?: Record<string, string>;
}

export interface EventStream extends Publisher {
  /** Creates the topics that do not exist (the project creates topics, not auto-create). */
  ensureTopics(topics: Array<{ topic: string; partitions: number }>): Promise<void>;
  /** Appends records to a topic (used for the retry and dead-letter topics). */
  produce(topic: string, records: ProducedRecord[]): Promise<void>;
  consume(options: ConsumeOptions): Promise<StreamConsumerHandle>;
  committed(groupId: string, topic: string): Promise<Array<{ partition: number; offset: number }>>;
  watermarks(topic: string): Promise<PartitionWatermarks[]>;
  isReady(): boolean;
  close(): Promise<void>;
}

export const EVENT_STREAM = Symbol('EVENT_STREAM');

/**
 * An outbox row as an event-stream record: to `<source>-events`, keyed by the envelope's key (the
 * order id), the envelope as JSON, and the headers a reader can route on without parsing it.
 * Every adapter (Kafka, in-memory, namespaced) publishes through this one mapping.
 */
export function streamRecordOf(envelope: Envelope, body?: string): { topic: string; record: Required<ProducedRecord> } {
  return {
    topic: eventTopic(envelope.source),
    record: {
      key: envelope.key,
      value: body ?? JSON.stringify(envelope),
      headers: {
        'message-id': envelope.messageId,
        'message-type': envelope.type,
        source: envelope.source,
        ...(envelope.traceparent ? { traceparent: envelope.traceparent } : {}),
      },
    },
  };
}

/** `order` → `order-events`. */
export function eventTopic(source: string): string {
  return `${source}-events`;
}

/** The domain event topics of the saga's services, and their partition count. */
export const eventTopics = ['order', 'payment', 'inventory'].map(eventTopic);
export const EVENT_TOPIC_PARTITIONS = 6;
