import { sleep } from '@app/platform';
import { Api } from './support/api';
import { startSystem, type SystemUnderTest } from './support/system';
import { until } from './support/wait';

type Service = keyof SystemUnderTest['urls'];
const services: Service[] = ['order', 'payment', 'inventory', 'analytics'];

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Prometheus' text format, the sample lines only. */
function parse(text: string): Sample[] {
  return text
    .split('\n')
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
      if (!m) throw new Error(`not a sample line: ${line}`);
      const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]));
      return { name: m[1], labels, value: Number(m[3]) };
    });
}

/** One scrape of every service. */
type Scrape = Record<Service, Sample[]>;

/** The sum of the samples named `name` whose labels include `labels`. */
function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((sum, s) => sum + s.value, 0);
}

/**
 * A saga run of known shape (two confirmed, one declined, one out of stock, one poisoned by a
 * failing payment gateway) moves every service's counters by exactly those amounts; the outbox
 * gauges come back to 0. Deltas, not presence: the counters of earlier tests in the same
 * process do not count.
 */
describe('metrics on every service', () => {
  let sut: SystemUnderTest;
  let api: Api;

  beforeAll(async () => {
    sut = await startSystem();
    api = new Api(sut);
  });
  afterAll(() => sut?.stop());

  const scrape = async (): Promise<Scrape> => {
    const texts = await Promise.all(
      services.map(async (s) => {
        const r = await fetch(`${sut.urls[s]}/metrics`);
        expect(r.status).toBe(200);
        expect(r.headers.get('content-type')).toMatch(/^text\/plain;.*version=0\.0\.4/);
        return r.text();
      }),
    );
    return Object.fromEntries(services.map((s, i) => [s, parse(texts[i])])) as Scrape;
  };

  it('serves the same families in every service, each sample labelled with its service, without authentication', async () => {
    const everywhere = [
      'saga_http_requests_total',
      'saga_http_request_duration_seconds',
      'saga_outbox_pending_messages',
      'saga_outbox_oldest_pending_age_seconds',
      'saga_outbox_sent_total',
      'saga_outbox_publish_failures_total',
      'saga_outbox_swept_total',
      'saga_outbox_deleted_total',
      'saga_outbox_publish_duration_seconds',
      'saga_outbox_publish_batch_size',
      'process_cpu_seconds_total',
      'nodejs_eventloop_lag_seconds',
    ];
    const consumers = [
      'saga_messages_consumed_total',
      'saga_message_handling_duration_seconds',
      'saga_message_critical_time_seconds',
      'saga_message_delivery_attempts',
      'saga_dead_letters_parked',
    ];
    const saga = [
      'saga_orders_completed_total',
      'saga_order_cancellations_total',
      'saga_order_saga_duration_seconds',
      'saga_orders_open',
      'saga_orders_overdue',
    ];
    const archive = [
      'saga_archive_blobs_written_total',
      'saga_archive_events_archived_total',
      'saga_archive_last_commit_age_seconds',
      'saga_kafka_consumer_lag_messages',
      'saga_dead_letters_parked',
    ];
    const now = await scrape();
    for (const s of services) {
      const text = await (await fetch(`${sut.urls[s]}/metrics`)).text();
      const families = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]));
      const expected = [...everywhere, ...(s === 'analytics' ? archive : consumers), ...(s === 'order' ? saga : [])];
      expect([s, expected.filter((f) => !families.has(f))]).toEqual([s, []]);
      for (const sample of now[s]) expect([sample.name, sample.labels.service]).toEqual([sample.name, s]);
    }
  });

  it('counts a saga run of known shape exactly', async () => {
    const { sku, scarce, rich, poor, broken } = await api.cast();

    const before = await scrape();
    const ids = [
      await api.place(rich, [{ sku, quantity: 1 }]),
      await api.place(rich, [{ sku, quantity: 2 }]),
      await api.place(poor, [{ sku, quantity: 1 }]),
      await api.place(rich, [{ sku: scarce, quantity: 2 }]),
      await api.place(broken, [{ sku, quantity: 1 }]),
    ];
    const settled = await Promise.all(ids.map((id) => api.settled(id)));
    expect(settled.map((o) => o.cancellationReason)).toEqual([null, null, 'PAYMENT_DECLINED', 'OUT_OF_STOCK', 'PROCESSING_FAILED']);
    expect((await api.get('order', `/api/orders/${ids[0]}/no-such-thing`)).status).toBe(404);

    const delta = (now: Scrape, s: Service, name: string, labels: Record<string, string> = {}) => value(now[s], name, labels) - value(before[s], name, labels);
    const consumed = (now: Scrape, s: Service, type: string, outcome = 'handled') =>
      delta(now, s, 'saga_messages_consumed_total', { message_type: type, outcome });
    // The last counters to move: Order's outcomes, and the outbox rows of the last answers sent.
    const after = await until(
      scrape,
      (now) =>
        delta(now, 'order', 'saga_orders_completed_total') >= 5 &&
        services.every((s) => value(now[s], 'saga_outbox_pending_messages') === 0) &&
        consumed(now, 'inventory', 'ReleaseStock') >= 1,
      20_000,
      'the counters of the run',
    );
    // A little longer: a counter that kept moving past its expected value would show now.
    await sleep(300);
    const now = await scrape();
    expect(value(now.order, 'saga_orders_completed_total')).toBe(value(after.order, 'saga_orders_completed_total'));

    // Order: outcomes, reasons, saga durations.
    expect(delta(now, 'order', 'saga_orders_completed_total', { outcome: 'confirmed' })).toBe(2);
    expect(delta(now, 'order', 'saga_orders_completed_total', { outcome: 'cancelled' })).toBe(3);
    for (const reason of ['PAYMENT_DECLINED', 'OUT_OF_STOCK', 'PROCESSING_FAILED']) {
      expect([reason, delta(now, 'order', 'saga_order_cancellations_total', { reason })]).toEqual([reason, 1]);
    }
    expect(delta(now, 'order', 'saga_order_cancellations_total')).toBe(3);
    expect(delta(now, 'order', 'saga_order_saga_duration_seconds_count', { outcome: 'confirmed' })).toBe(2);
    expect(delta(now, 'order', 'saga_order_saga_duration_seconds_count', { outcome: 'cancelled' })).toBe(3);
    expect(delta(now, 'order', 'saga_order_saga_duration_seconds_sum')).toBeGreaterThan(0);

    // Order's HTTP: by route template, never by URL.
    expect(delta(now, 'order', 'saga_http_requests_total', { route: '/api/orders', method: 'POST', status_class: '2xx' })).toBe(5);
    expect(delta(now, 'order', 'saga_http_request_duration_seconds_count', { route: '/api/orders', method: 'POST', status_class: '2xx' })).toBe(5);
    expect(delta(now, 'order', 'saga_http_requests_total', { route: '/api/orders/:id', method: 'GET', status_class: '2xx' })).toBeGreaterThanOrEqual(5);
    expect(delta(now, 'order', 'saga_http_requests_total', { route: 'unmatched', method: 'GET', status_class: '4xx' })).toBe(1);
    const routes = new Set(now.order.filter((s) => s.name === 'saga_http_requests_total').map((s) => s.labels.route));
    for (const id of ids) expect([...routes].filter((r) => r.includes(id))).toEqual([]);

    // Payment: five OrderPlaced, one of which failed at the gateway until it was dead-lettered
    // (RETRY_DELAYED=2 in the test system: two delayed retries, then the DLQ); two refunds.
    expect(consumed(now, 'payment', 'OrderPlaced')).toBe(4);
    expect(consumed(now, 'payment', 'OrderPlaced', 'retried')).toBe(2);
    expect(consumed(now, 'payment', 'OrderPlaced', 'dead-lettered')).toBe(1);
    expect(consumed(now, 'payment', 'OrderPlaced', 'duplicate')).toBe(0);
    expect(consumed(now, 'payment', 'OrderPlaced', 'failed')).toBe(0);
    expect(consumed(now, 'payment', 'RefundPayment')).toBe(2);
    expect(delta(now, 'payment', 'saga_message_handling_duration_seconds_count', { message_type: 'OrderPlaced' })).toBe(7);
    expect(delta(now, 'payment', 'saga_message_critical_time_seconds_count', { message_type: 'OrderPlaced' })).toBe(4);
    expect(delta(now, 'payment', 'saga_message_critical_time_seconds_sum', { message_type: 'OrderPlaced' })).toBeGreaterThan(0);
    // Attempts of the five that ended: four handled at the first, the poisoned one after
    // 2 tries (RETRY_IMMEDIATE=1) on each of its 3 deliveries.
    expect(delta(now, 'payment', 'saga_message_delivery_attempts_count', { message_type: 'OrderPlaced' })).toBe(5);
    expect(delta(now, 'payment', 'saga_message_delivery_attempts_sum', { message_type: 'OrderPlaced' })).toBe(10);

    // Inventory: the three authorized payments (two reserved, one short), one release.
    expect(consumed(now, 'inventory', 'PaymentAuthorized')).toBe(3);
    expect(consumed(now, 'inventory', 'ReleaseStock')).toBe(1);

    // Order consumed every answer once.
    const answers = {
      PaymentAuthorized: 3,
      PaymentDeclined: 1,
      StockReserved: 2,
      StockReservationFailed: 1,
      PaymentRefunded: 2,
      StockReleased: 1,
      SagaStepFailed: 1,
    };
    for (const [type, n] of Object.entries(answers)) expect([type, consumed(now, 'order', type)]).toEqual([type, n]);

    // Order's outbox: 5 OrderPlaced, 2 OrderConfirmed, 3 OrderCancelled, 2 RefundPayment,
    // 1 ReleaseStock, each sent once on each channel (live or by the sweeper), all deleted.
    for (const channel of ['bus', 'stream']) {
      const sent = delta(now, 'order', 'saga_outbox_sent_total', { channel }) + delta(now, 'order', 'saga_outbox_swept_total', { channel });
      expect([channel, sent]).toEqual([channel, 13]);
      expect([channel, value(now.order, 'saga_outbox_oldest_pending_age_seconds', { channel })]).toEqual([channel, 0]);
    }
    expect(delta(now, 'order', 'saga_outbox_deleted_total')).toBe(13);
    expect(delta(now, 'payment', 'saga_outbox_publish_failures_total')).toBe(0);

    // Open sagas: none once all five settled, none overdue.
    expect(value(now.order, 'saga_orders_open', { status: 'pending' })).toBe(0);
    expect(value(now.order, 'saga_orders_open', { status: 'cancelling' })).toBe(0);
    expect(value(now.order, 'saga_orders_overdue')).toBe(0);
    // Parked: the poisoned OrderPlaced, in Payment's dead-letter queue (read from the broker).
    expect(delta(now, 'payment', 'saga_dead_letters_parked', { store: 'bus' })).toBe(1);
    expect(delta(now, 'order', 'saga_dead_letters_parked', { store: 'bus' })).toBe(0);
    expect(delta(now, 'inventory', 'saga_dead_letters_parked', { store: 'bus' })).toBe(0);

    // Analytics archives every event the three services streamed, once each, and its group
    // catches up: lag 0 on every partition, each partition it committed has a commit age.
    const streamed = (n: Scrape) =>
      (['order', 'payment', 'inventory'] as const).reduce(
        (sum, s) => sum + delta(n, s, 'saga_outbox_sent_total', { channel: 'stream' }) + delta(n, s, 'saga_outbox_swept_total', { channel: 'stream' }),
        0,
      );
    const archived = await until(
      scrape,
      (n) =>
        delta(n, 'analytics', 'saga_archive_events_archived_total') >= streamed(n) &&
        value(n.analytics, 'saga_kafka_consumer_lag_messages') === 0 &&
        n.analytics.some((x) => x.name === 'saga_kafka_consumer_lag_messages'),
      30_000,
      'the archive to catch up',
    );
    expect(streamed(archived)).toBeGreaterThanOrEqual(13);
    expect(delta(archived, 'analytics', 'saga_archive_events_archived_total')).toBe(streamed(archived));
    expect(delta(archived, 'analytics', 'saga_archive_blobs_written_total')).toBeGreaterThanOrEqual(1);
    expect(delta(archived, 'analytics', 'saga_dead_letters_parked', { store: 'stream' })).toBe(0);
    const ages = archived.analytics.filter((x) => x.name === 'saga_archive_last_commit_age_seconds');
    expect(ages.length).toBeGreaterThanOrEqual(1);
    for (const a of ages) expect(a.value).toBeLessThan(60);
  });
});
