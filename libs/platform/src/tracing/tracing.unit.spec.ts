import { context, trace } from '@opentelemetry/api';
import { activeTraceparent, configureTracing, contextFrom, serviceTracer, shutdownTracing, traceparentOf, tracingEnabled } from './tracing';
import { otlpStandIn } from '../../../../test/support/otlp-stand-in';

describe('tracing', () => {
  const collector = otlpStandIn();
  beforeAll(() => collector.start());
  afterAll(async () => {
    await shutdownTracing();
    await collector.close();
  });

  it('is off without an OTLP endpoint: no traceparent is made up, a parent is not read', () => {
    expect(configureTracing({})).toBe(false);
    expect(tracingEnabled()).toBe(false);
    const span = serviceTracer('order').startSpan('x');
    expect(traceparentOf(span)).toBeUndefined();
    expect(activeTraceparent()).toBeUndefined();
    const base = context.active();
    expect(contextFrom('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', base)).toBe(base);
  });

  it('once on, continues a valid traceparent as the parent of new spans and ignores an invalid one', () => {
    expect(configureTracing({ OTEL_EXPORTER_OTLP_ENDPOINT: collector.url() })).toBe(true);
    const tracer = serviceTracer('payment');
    const parent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const child = tracer.startSpan('process OrderPlaced', {}, contextFrom(parent));
    const tp = traceparentOf(child)!;
    expect(tp).toMatch(/^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$/);
    expect(tp).not.toContain('00f067aa0ba902b7');
    const fresh = tracer.startSpan('x', {}, contextFrom('00-zz-yy-01'));
    expect(traceparentOf(fresh)).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    expect(traceparentOf(fresh)!.slice(3, 35)).not.toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    // The active span's traceparent, inside it.
    context.with(trace.setSpan(context.active(), child), () => expect(activeTraceparent()).toBe(tp));
    child.end();
    fresh.end();
  });
});
