import type { OutgoingMessage } from '../transport';
import {
  eventTopic,
  streamRecordOf,
  type ConsumeOptions,
  type EventStream,
  type PartitionWatermarks,
  type ProducedRecord,
  type StreamConsumerHandle,
} from './stream';

/**
 * Prefixes every topic and consumer group with a namespace, so several systems (test runs)
 * share one Kafka without seeing each other's events. The rest of the code keeps the plain
 * names (`order-events`, `analytics`); only this wrapper knows the prefix.
 */
export class NamespacedEventStream implements EventStream {
  constructor(
    private readonly inner: EventStream,
    private readonly ns: string,
  ) {}

  private t = (topic: string) => `${this.ns}${topic}`;
  private g = (group: string) => `${this.ns}${group}`;
  private un = (topic: string) => (topic.startsWith(this.ns) ? topic.slice(this.ns.length) : topic);

  ensureTopics(topics: Array<{ topic: string; partitions: number }>): Promise<void> {
    return this.inner.ensureTopics(topics.map((t) => ({ ...t, topic: this.t(t.topic) })));
  }

  destinationOf(message: OutgoingMessage): { system: string; name: string } {
    const inner = this.inner.destinationOf?.(message);
    return { system: inner?.system ?? 'kafka', name: this.t(eventTopic(message.envelope.source)) };
  }

  async publish(messages: readonly OutgoingMessage[]): Promise<void> {
    const byTopic = new Map<string, ProducedRecord[]>();
    for (const { envelope, body } of messages) {
      const { topic: plain, record } = streamRecordOf(envelope, body);
      const topic = this.t(plain);
      byTopic.set(topic, [...(byTopic.get(topic) ?? []), record]);
    }
    await Promise.all([...byTopic].map(([topic, records]) => this.inner.produce(topic, records)));
  }

  produce(topic: string, records: ProducedRecord[]): Promise<void> {
    return this.inner.produce(this.t(topic), records);
  }

  async consume(options: ConsumeOptions): Promise<StreamConsumerHandle> {
    // The handle the caller gets (in onBatch too) translates its topics back to the inner names.
    const ref: { inner?: StreamConsumerHandle } = {};
    const outer: StreamConsumerHandle = {
      commit: (offsets) => ref.inner!.commit(offsets.map((o) => ({ ...o, topic: this.t(o.topic) }))),
      stop: () => ref.inner!.stop(),
    };
    ref.inner = await this.inner.consume({
      groupId: this.g(options.groupId),
      topics: options.topics.map(this.t),
      onBatch: (batch) =>
        options.onBatch({ ...batch, topic: this.un(batch.topic), records: batch.records.map((r) => ({ ...r, topic: this.un(r.topic) })) }, outer),
      onRevoked: options.onRevoked && ((ps) => options.onRevoked!(ps.map((p) => ({ ...p, topic: this.un(p.topic) })))),
    });
    return outer;
  }

  committed(groupId: string, topic: string): Promise<Array<{ partition: number; offset: number }>> {
    return this.inner.committed(this.g(groupId), this.t(topic));
  }

  watermarks(topic: string): Promise<PartitionWatermarks[]> {
    return this.inner.watermarks(this.t(topic));
  }

  isReady(): boolean {
    return this.inner.isReady();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
