import { Registry } from 'prom-client';
import { OutboxMetrics, type BacklogSource } from './outbox.metrics';
import { outboxSql } from './outbox.sql';

const lines = async (registry: Registry, prefix: string) => (await registry.metrics()).split('\n').filter((l) => l.startsWith(prefix));

describe('outbox metrics', () => {
  it('reads the backlog once per scrape for both gauges, from the dispatcher started last', async () => {
    const registry = new Registry();
    const metrics = new OutboxMetrics(registry);
    const old: BacklogSource = jest.fn(async () => ({ bus: { pending: 99, oldestAgeSeconds: 99 } }));
    const current: BacklogSource = jest.fn(async () => ({ bus: { pending: 3, oldestAgeSeconds: 1.5 }, stream: { pending: 0, oldestAgeSeconds: 0 } }));
    metrics.watch(old);
    metrics.watch(current);
    expect(await lines(registry, 'saga_outbox_pending_messages')).toEqual([
      'saga_outbox_pending_messages{channel="bus"} 3',
      'saga_outbox_pending_messages{channel="stream"} 0',
    ]);
    expect(await lines(registry, 'saga_outbox_oldest_pending_age_seconds')).toEqual([
      'saga_outbox_oldest_pending_age_seconds{channel="bus"} 1.5',
      'saga_outbox_oldest_pending_age_seconds{channel="stream"} 0',
    ]);
    // Two scrapes above, each one read shared by the two gauges.
    expect(current).toHaveBeenCalledTimes(2);
    expect(old).not.toHaveBeenCalled();
  });

  it('shows no backlog samples once the dispatcher stopped, or while the table cannot be read', async () => {
    const registry = new Registry();
    const metrics = new OutboxMetrics(registry);
    const stop = metrics.watch(async () => ({ bus: { pending: 1, oldestAgeSeconds: 2 } }));
    expect(await lines(registry, 'saga_outbox_pending_messages')).toHaveLength(1);
    stop();
    expect(await lines(registry, 'saga_outbox_pending_messages')).toEqual([]);
    metrics.watch(async () => undefined);
    expect(await lines(registry, 'saga_outbox_oldest_pending_age_seconds')).toEqual([]);
  });

  it('counts sends, failures, sweeps and deletes per channel, every series present from the start', async () => {
    const registry = new Registry();
    const metrics = new OutboxMetrics(registry);
    expect(await lines(registry, 'saga_outbox_swept_total')).toEqual([
      'saga_outbox_swept_total{channel="bus"} 0',
      'saga_outbox_swept_total{channel="stream"} 0',
    ]);
    metrics.sent.bus.inc(5);
    metrics.failedPublishes.stream.inc();
    metrics.deleted.inc(5);
    expect(await lines(registry, 'saga_outbox_sent_total')).toEqual(['saga_outbox_sent_total{channel="bus"} 5', 'saga_outbox_sent_total{channel="stream"} 0']);
    expect(await lines(registry, 'saga_outbox_publish_failures_total{channel="stream"}')).toEqual(['saga_outbox_publish_failures_total{channel="stream"} 1']);
    expect(await lines(registry, 'saga_outbox_deleted_total')).toEqual(['saga_outbox_deleted_total 5']);
  });

  it('reads both channels in one statement, with the database computing the age', () => {
    const sql = outboxSql.backlog('postgres', ['bus', 'stream']);
    expect(sql).toMatch(/^SELECT count\(\*\) FILTER \(WHERE published_at IS NULL\) AS pending_bus, EXTRACT\(EPOCH FROM now\(\) - min\(created_at\)/);
    expect(sql).toContain('FILTER (WHERE streamed_at IS NULL) AS pending_stream');
    expect(sql.match(/FROM outbox_messages/g)).toHaveLength(1);
  });
});
