import { Registry } from 'prom-client';
import { ArchiveMetrics, lagOf, type ArchiveMetricsSource } from './archive.metrics';

const lines = async (registry: Registry, prefix: string) => (await registry.metrics()).split('\n').filter((l) => l.startsWith(prefix));

describe('archive metrics', () => {
  it('computes lag from the watermarks and the committed offsets; a partition never committed counts from its low watermark', () => {
    expect(
      lagOf(
        'order-events',
        [
          { partition: 0, low: 0, high: 10 },
          { partition: 1, low: 4, high: 9 },
          { partition: 2, low: 0, high: 3 },
        ],
        [
          { partition: 0, offset: 7 },
          { partition: 1, offset: 0 },
          { partition: 2, offset: 3 },
        ],
      ),
    ).toEqual([
      { topic: 'order-events', partition: 0, lag: 3 },
      { topic: 'order-events', partition: 1, lag: 5 },
      { topic: 'order-events', partition: 2, lag: 0 },
    ]);
  });

  it('counts stored blobs and their events, and answers the gauges from the archiver that runs', async () => {
    const registry = new Registry();
    const metrics = new ArchiveMetrics(registry);
    expect(await lines(registry, 'saga_archive_events_archived_total')).toEqual(['saga_archive_events_archived_total 0']);
    metrics.stored(5);
    metrics.stored(2);
    expect(await lines(registry, 'saga_archive_blobs_written_total')).toEqual(['saga_archive_blobs_written_total 2']);
    expect(await lines(registry, 'saga_archive_events_archived_total')).toEqual(['saga_archive_events_archived_total 7']);
    // Nothing runs: no samples, not zeros that would read as "caught up".
    expect(await lines(registry, 'saga_kafka_consumer_lag_messages')).toEqual([]);

    const source: ArchiveMetricsSource = {
      commits: () => [{ topic: 'order-events', partition: 1, committedAtMs: Date.now() - 4000 }],
      lag: async () => [{ topic: 'order-events', partition: 1, lag: 12 }],
    };
    const stop = metrics.watch(source);
    expect(await lines(registry, 'saga_kafka_consumer_lag_messages')).toEqual(['saga_kafka_consumer_lag_messages{topic="order-events",partition="1"} 12']);
    const [age] = await lines(registry, 'saga_archive_last_commit_age_seconds');
    expect(age).toMatch(/^saga_archive_last_commit_age_seconds\{topic="order-events",partition="1"\} 4(\.\d+)?$/);
    stop();
    expect(await lines(registry, 'saga_archive_last_commit_age_seconds')).toEqual([]);
  });

  it('leaves the lag out when Kafka cannot say, rather than failing the scrape', async () => {
    const registry = new Registry();
    const metrics = new ArchiveMetrics(registry);
    metrics.watch({ commits: () => [], lag: async () => Promise.reject(new Error('Kafka is not connected')) });
    expect(await lines(registry, 'saga_kafka_consumer_lag_messages')).toEqual([]);
    expect(await lines(registry, 'saga_archive_blobs_written_total')).toEqual(['saga_archive_blobs_written_total 0']);
  });
});
