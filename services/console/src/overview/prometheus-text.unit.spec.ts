import { byLabel, histogramQuantile, parsePrometheusText, sum } from './prometheus-text';

const text = `# HELP saga_orders_open x
saga_orders_open{service="order",status="pending"} 3
saga_orders_open{service="order",status="cancelling"} 1
saga_order_cancellations_total{service="order",reason="OUT_OF_STOCK"} 2
saga_order_saga_duration_seconds_bucket{service="order",outcome="confirmed",le="0.1"} 5
saga_order_saga_duration_seconds_bucket{service="order",outcome="confirmed",le="1"} 10
saga_order_saga_duration_seconds_bucket{service="order",outcome="confirmed",le="+Inf"} 10
`;

describe('reading Prometheus text', () => {
  const samples = parsePrometheusText(text);

  it('sums and splits by a label', () => {
    expect(sum(samples, 'saga_orders_open')).toBe(4);
    expect(byLabel(samples, 'saga_order_cancellations_total', 'reason')).toEqual({ OUT_OF_STOCK: 2 });
  });

  it('interpolates a quantile inside its bucket, and has none without observations', () => {
    expect(histogramQuantile(samples, 'saga_order_saga_duration_seconds', 0.5)).toBeCloseTo(0.1);
    expect(histogramQuantile(samples, 'saga_order_saga_duration_seconds', 0.75)).toBeCloseTo(0.55);
    expect(histogramQuantile(samples, 'nothing', 0.5)).toBeNull();
  });
});
