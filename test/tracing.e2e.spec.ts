import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { Api, uniq } from './support/api';
import { startSystem, type SystemUnderTest } from './support/system';
import { until } from './support/wait';

const distributed = process.env.E2E_MODE === 'distributed';

/** A span as an OTLP/HTTP JSON export carries it, with its service from the resource. */
interface ReceivedSpan {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  attributes: Record<string, unknown>;
  links: Array<{ traceId: string; spanId: string }>;
}

type OtlpValue = { stringValue?: string; intValue?: string | number; boolValue?: boolean };
const valueOf = (v: OtlpValue) => v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : v.boolValue);
const attrs = (list: Array<{ key: string; value: OtlpValue }> = []) => Object.fromEntries(list.map((a) => [a.key, valueOf(a.value)]));

/**
 * A collector stand-in: an HTTP server that takes OTLP/HTTP JSON at /v1/traces, as the
 * OpenTelemetry Collector or Jaeger would, and keeps the spans.
 */
async function otlpReceiver(): Promise<{ url: string; spans: ReceivedSpan[]; close(): Promise<void> }> {
  const spans: ReceivedSpan[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let raw = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') raw = gunzipSync(raw);
      if (req.url === '/v1/traces' && String(req.headers['content-type']).startsWith('application/json')) {
        const body = JSON.parse(raw.toString('utf8')) as {
          resourceSpans: Array<{ resource: { attributes: Array<{ key: string; value: OtlpValue }> }; scopeSpans: Array<{ spans: any[] }> }>;
        };
        for (const rs of body.resourceSpans) {
          const service = String(attrs(rs.resource.attributes)['service.name']);
          for (const ss of rs.scopeSpans)
            for (const s of ss.spans)
              spans.push({
                service,
                traceId: s.traceId,
                spanId: s.spanId,
                parentSpanId: s.parentSpanId ?? '',
                name: s.name,
                kind: s.kind,
                attributes: attrs(s.attributes),
                links: (s.links ?? []).map((l: { traceId: string; spanId: string }) => ({ traceId: l.traceId, spanId: l.spanId })),
              });
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, spans, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/**
 * One trace per order: the POST's server span, then each service's handling of each message,
 * each a child of the handling (or the request) that sent it, whatever process it ran in; the
 * analytics batch that projected the order's events links to that trace.
 */
describe('traces (OpenTelemetry over OTLP)', () => {
  let receiver: Awaited<ReturnType<typeof otlpReceiver>>;
  let sut: SystemUnderTest;
  let api: Api;

  beforeAll(async () => {
    receiver = await otlpReceiver();
    sut = await startSystem({
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_BSP_SCHEDULE_DELAY: '100',
      // A deadline the last test's order reaches: Payment's retries (2 s, 4 s, 8 s) outlast it.
      SAGA_DEADLINE_MS: '4000',
      DEADLINE_CHECK_INTERVAL_MS: '100',
      RETRY_DELAYED: '3',
      RETRY_BASE_DELAY_MS: '2000',
      RETRY_MAX_DELAY_MS: '8000',
    });
    api = new Api(sut);
  });
  afterAll(async () => {
    await sut?.stop();
    await receiver?.close();
  });

  it("makes a confirmed order's saga one trace, continuing the caller's traceparent, across HTTP, the bus and every service", async () => {
    const sku = uniq('SKU');
    const customer = uniq('cust');
    await api.product(sku, 10, 20);
    await api.account(customer, 500);
    const callerTrace = '4bf92f3577b34da6a3ce929d0e0e4736'.replace(/^.{8}/, Math.random().toString(16).slice(2, 10).padEnd(8, '0'));
    const callerSpan = '00f067aa0ba902b7';
    const placed = await api.placeOrder(customer, [{ sku, quantity: 1 }], { 'idempotency-key': uniq('k'), traceparent: `00-${callerTrace}-${callerSpan}-01` });
    expect(placed.status).toBe(202);
    const orderId = placed.body.orderId as string;
    const order = await api.settled(orderId);
    expect(order.status).toBe('CONFIRMED');

    const processing = (service: string, type: string) =>
      receiver.spans.find((s) => s.service === service && s.name === `process ${type}` && s.attributes['messaging.message.conversation_id'] === orderId);
    const steps = await until(
      () => ({
        post: receiver.spans.find((s) => s.service === 'order' && s.name === 'POST /api/orders' && s.traceId === callerTrace),
        payment: processing('payment', 'OrderPlaced'),
        inventory: processing('inventory', 'PaymentAuthorized'),
        reserved: processing('order', 'StockReserved'),
        authorized: processing('order', 'PaymentAuthorized'),
        // The batch's span; a database transaction that serves several traces links to each too.
        analytics: receiver.spans.find((s) => s.service === 'analytics' && s.name === 'process events' && s.links.some((l) => l.traceId === callerTrace)),
      }),
      (x) => Object.values(x).every(Boolean),
      20_000,
      "the saga's spans",
    );
    const { post, payment, inventory, reserved, authorized, analytics } = steps as { [K in keyof typeof steps]: ReceivedSpan };
    // The caller's trace, continued: the server span is its child.
    expect(post.parentSpanId).toBe(callerSpan);
    expect(post.attributes['http.route']).toBe('/api/orders');
    expect(post.kind).toBe(2); // SERVER
    for (const s of [payment, inventory, reserved, authorized]) {
      expect([s.name, s.traceId]).toEqual([s.name, callerTrace]);
      expect(s.kind).toBe(5); // CONSUMER
      expect(s.attributes['saga.outcome']).toBe('handled');
    }
    // Each handling is the child of what sent its message.
    expect(payment.parentSpanId).toBe(post.spanId);
    expect(inventory.parentSpanId).toBe(payment.spanId);
    expect(authorized.parentSpanId).toBe(payment.spanId);
    expect(reserved.parentSpanId).toBe(inventory.spanId);
    expect(analytics.kind).toBe(5); // CONSUMER
    // Never an order id in a span name, and every span of the trace from a service of ours.
    const trace = receiver.spans.filter((s) => s.traceId === callerTrace);
    for (const s of trace) expect(s.name).not.toContain(orderId);
    // Analytics' spans join the trace when a database transaction of its serves this order alone.
    const services = new Set(trace.map((s) => s.service));
    for (const service of ['order', 'payment', 'inventory']) expect(services).toContain(service);
    expect([...services].filter((x) => !['order', 'payment', 'inventory', 'analytics', 'notification'].includes(x))).toEqual([]);

    // The outbox's sends: OrderPlaced to the bus and to Order's event topic, each a producer
    // span under the request that wrote it, named by destination.
    const sends = await until(
      () => receiver.spans.filter((s) => s.kind === 4 && s.parentSpanId === post.spanId),
      (x) => x.length >= 2,
      20_000,
      "OrderPlaced's sends",
    );
    const bus = sends.find((s) => /saga\.events$/.test(String(s.attributes['messaging.destination.name'])))!;
    const topic = sends.find((s) => /order-events$/.test(String(s.attributes['messaging.destination.name'])))!;
    expect(bus.name).toBe(`send ${String(bus.attributes['messaging.destination.name'])}`);
    expect(bus.attributes).toMatchObject({
      'messaging.system': distributed ? 'rabbitmq' : 'memory',
      'messaging.operation.type': 'send',
      'messaging.message.conversation_id': orderId,
      'saga.outbox.swept': false,
    });
    expect(bus.attributes['messaging.rabbitmq.destination.routing_key']).toBe(distributed ? 'order.order-placed' : undefined);
    expect(topic.attributes).toMatchObject({ 'messaging.system': distributed ? 'kafka' : 'memory', 'messaging.operation.type': 'send' });
    expect(topic.traceId).toBe(callerTrace);

    // The database: the group insert under the request, Payment's transaction under its
    // handling of OrderPlaced, each statement a span of its own with its parameterized text.
    const db = await until(
      () => ({
        placed: receiver.spans.find((s) => s.service === 'order' && s.name === 'place orders' && s.parentSpanId === post.spanId),
        handled: receiver.spans.find((s) => s.service === 'payment' && s.name === 'transaction' && s.parentSpanId === payment.spanId),
      }),
      (x) => !!x.placed && !!x.handled,
      20_000,
      'the database spans',
    );
    const statements = (parent: ReceivedSpan) =>
      until(
        () => receiver.spans.filter((s) => s.parentSpanId === parent.spanId),
        (x) => x.length === Number(parent.attributes['saga.db.statements']),
        20_000,
        `the statements of ${parent.name}`,
      );
    for (const parent of [db.placed!, db.handled!]) {
      expect(parent.kind).toBe(3); // CLIENT
      expect(parent.attributes['db.system.name']).toBe('postgresql');
      expect(Number(parent.attributes['saga.db.statements'])).toBeGreaterThan(0);
    }
    const inPayment = await statements(db.handled!);
    const names = inPayment.map((s) => s.name);
    expect(names).toEqual(expect.arrayContaining(['INSERT inbox_messages', 'INSERT outbox_messages']));
    const outboxInsert = inPayment.find((s) => s.name === 'INSERT outbox_messages')!;
    expect(outboxInsert.attributes).toMatchObject({ 'db.system.name': 'postgresql', 'db.operation.name': 'INSERT', 'db.collection.name': 'outbox_messages' });
    expect(String(outboxInsert.attributes['db.query.text'])).toMatch(/^INSERT INTO outbox_messages/);
    expect(String(outboxInsert.attributes['db.query.text'])).not.toContain(orderId);
    expect((await statements(db.placed!)).map((s) => s.name)).toContain('INSERT orders');
  });

  it("keeps a compensated order's refund in its trace, under the stock failure that caused it", async () => {
    const sku = uniq('SKU');
    const customer = uniq('cust');
    await api.product(sku, 10, 1);
    await api.account(customer, 500);
    const placed = await api.placeOrder(customer, [{ sku, quantity: 2 }], { 'idempotency-key': uniq('k') });
    const orderId = placed.body.orderId as string;
    expect((await api.settled(orderId)).cancellationReason).toBe('OUT_OF_STOCK');
    const processing = (service: string, type: string) =>
      receiver.spans.find((s) => s.service === service && s.name === `process ${type}` && s.attributes['messaging.message.conversation_id'] === orderId);
    const steps = await until(
      () => ({
        failed: processing('order', 'StockReservationFailed'),
        refund: processing('payment', 'RefundPayment'),
        refunded: processing('order', 'PaymentRefunded'),
      }),
      (x) => Object.values(x).every(Boolean),
      20_000,
      "the compensation's spans",
    );
    const { failed, refund, refunded } = steps as { [K in keyof typeof steps]: ReceivedSpan };
    expect(new Set([failed.traceId, refund.traceId, refunded.traceId]).size).toBe(1);
    expect(refund.parentSpanId).toBe(failed.spanId);
    expect(refunded.parentSpanId).toBe(refund.spanId);
  });

  it("keeps the deadline's cancellation and its compensations in the order's trace", async () => {
    const sku = uniq('SKU');
    const customer = uniq('cust');
    await api.product(sku, 10, 5);
    await api.account(customer, 500, true);
    const placed = await api.placeOrder(customer, [{ sku, quantity: 1 }], { 'idempotency-key': uniq('k') });
    const orderId = placed.body.orderId as string;
    expect((await api.settled(orderId, 20_000)).cancellationReason).toBe('TIMEOUT');
    const found = await until(
      () => {
        const post = receiver.spans.find(
          (s) => s.name === 'process OrderPlaced' && s.attributes['messaging.message.conversation_id'] === orderId && s.service === 'payment',
        );
        const request = post && receiver.spans.find((s) => s.spanId === post.parentSpanId);
        const under = (service: string, name: string) =>
          request && receiver.spans.find((s) => s.service === service && s.name === name && s.parentSpanId === request.spanId);
        return {
          request,
          deadline: under('order', 'transaction'),
          refund: under('payment', 'process RefundPayment'),
          release: under('inventory', 'process ReleaseStock'),
        };
      },
      (x) => Object.values(x).every(Boolean),
      20_000,
      "the deadline's spans",
    );
    // The deadline, read from the order long after the request, continues the request's trace.
    expect(found.request!.name).toBe('POST /api/orders');
    for (const s of [found.deadline!, found.refund!, found.release!]) expect(s.traceId).toBe(found.request!.traceId);
  });

  it('starts a new trace for a request that sends none, or an invalid one', async () => {
    const sku = uniq('SKU');
    const customer = uniq('cust');
    await api.product(sku, 10, 20);
    await api.account(customer, 500);
    const placed = await api.placeOrder(customer, [{ sku, quantity: 1 }], { 'idempotency-key': uniq('k'), traceparent: 'not-a-traceparent' });
    expect(placed.status).toBe(202);
    const orderId = placed.body.orderId as string;
    await api.settled(orderId);
    const payment = await until(
      () =>
        receiver.spans.find(
          (s) => s.service === 'payment' && s.name === 'process OrderPlaced' && s.attributes['messaging.message.conversation_id'] === orderId,
        ),
      Boolean,
      20_000,
      "payment's span",
    );
    const post = await until(() => receiver.spans.find((s) => s.spanId === payment!.parentSpanId), Boolean, 20_000, 'the POST span');
    expect(post?.name).toBe('POST /api/orders');
    expect(post?.parentSpanId).toBe('');
    expect(payment!.traceId).toMatch(/^[0-9a-f]{32}$/);
  });
});
