import { Registry } from 'prom-client';
import { OrderSagaMetrics } from './order-saga.metrics';

const lines = async (registry: Registry, prefix: string) => (await registry.metrics()).split('\n').filter((l) => l.startsWith(prefix));

describe('order saga metrics', () => {
  it('counts outcomes and cancellation reasons, every series present at 0 from the start', async () => {
    const registry = new Registry();
    const metrics = new OrderSagaMetrics(registry);
    expect(await lines(registry, 'saga_order_cancellations_total')).toHaveLength(5);
    const placed = new Date('2026-01-01T00:00:00Z');
    metrics.completed('CONFIRMED', null, placed, new Date('2026-01-01T00:00:00.400Z'));
    metrics.completed('CANCELLED', 'OUT_OF_STOCK', placed, new Date('2026-01-01T00:00:03Z'));
    expect(await lines(registry, 'saga_orders_completed_total')).toEqual([
      'saga_orders_completed_total{outcome="confirmed"} 1',
      'saga_orders_completed_total{outcome="cancelled"} 1',
    ]);
    expect(await lines(registry, 'saga_order_cancellations_total{reason="OUT_OF_STOCK"}')).toEqual(['saga_order_cancellations_total{reason="OUT_OF_STOCK"} 1']);
    expect(await lines(registry, 'saga_order_cancellations_total{reason="TIMEOUT"}')).toEqual(['saga_order_cancellations_total{reason="TIMEOUT"} 0']);
  });

  it('observes the time from placing the order to its terminal state, by outcome', async () => {
    const registry = new Registry();
    const metrics = new OrderSagaMetrics(registry);
    const placed = new Date('2026-01-01T00:00:00Z');
    metrics.completed('CONFIRMED', null, placed, new Date('2026-01-01T00:00:00.400Z'));
    metrics.completed('CANCELLED', 'TIMEOUT', placed, new Date('2026-01-01T00:00:30Z'));
    expect(await lines(registry, 'saga_order_saga_duration_seconds_sum')).toEqual([
      'saga_order_saga_duration_seconds_sum{outcome="confirmed"} 0.4',
      'saga_order_saga_duration_seconds_sum{outcome="cancelled"} 30',
    ]);
    expect(await lines(registry, 'saga_order_saga_duration_seconds_bucket{le="0.5",outcome="confirmed"}')).toEqual([
      'saga_order_saga_duration_seconds_bucket{le="0.5",outcome="confirmed"} 1',
    ]);
  });

  it('reads the open sagas at scrape time, once for both gauges, and shows none while nothing answers', async () => {
    const registry = new Registry();
    const metrics = new OrderSagaMetrics(registry);
    expect(await lines(registry, 'saga_orders_open')).toEqual([]);
    // prom-client writes NaN as "Nan"; Prometheus parses it either way.
    expect(await lines(registry, 'saga_orders_overdue')).toEqual(['saga_orders_overdue Nan']);
    let reads = 0;
    const stop = metrics.watchOpen(async () => (reads++, { pending: 3, cancelling: 1, overdue: 2 }));
    // One scrape: both gauges from one read.
    expect(await lines(registry, 'saga_orders_o')).toEqual([
      'saga_orders_open{status="pending"} 3',
      'saga_orders_open{status="cancelling"} 1',
      'saga_orders_overdue 2',
    ]);
    expect(reads).toBe(1);
    stop();
    expect(await lines(registry, 'saga_orders_open')).toEqual([]);
    expect(await lines(registry, 'saga_orders_overdue')).toEqual(['saga_orders_overdue Nan']);
  });
});
