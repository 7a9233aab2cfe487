import { context, trace } from '@opentelemetry/api';
import { configureTracing, serviceTracer, shutdownTracing, traceparentOf } from '../tracing/tracing';
import { addContext } from './logger';
import { withLogContext } from './log-context';
import { otlpStandIn } from '../../../../test/support/otlp-stand-in';

/** What the format adds to one line logged now. */
const line = (): Record<string, unknown> => addContext().transform({ level: 'info', message: 'x' }) as Record<string, unknown>;

describe('log lines', () => {
  const collector = otlpStandIn();
  beforeAll(() => collector.start());
  afterAll(async () => {
    await shutdownTracing();
    await collector.close();
  });

  it('carry the log context, and no trace ids while tracing is off', () => {
    withLogContext({ correlationId: 'c-1', messageId: 'm-1' }, () => {
      const l = line();
      expect(l).toMatchObject({ correlationId: 'c-1', messageId: 'm-1' });
      expect(l).not.toHaveProperty('trace_id');
      expect(l).not.toHaveProperty('traceId');
    });
  });

  it("carry the active span's trace_id and span_id (an HTTP request's), and a message's in preference to it", () => {
    configureTracing({ OTEL_EXPORTER_OTLP_ENDPOINT: collector.url() });
    const request = serviceTracer('order').startSpan('POST /api/orders');
    const { traceId, spanId } = request.spanContext();
    expect(traceparentOf(request)).toBe(`00-${traceId}-${spanId}-01`);
    context.with(trace.setSpan(context.active(), request), () => {
      expect(line()).toMatchObject({ trace_id: traceId, span_id: spanId });
      // A message handled while a request's context is active (the in-memory bus delivers from the sender's).
      withLogContext({ traceId: 'a'.repeat(32), spanId: 'b'.repeat(16) }, () => {
        const l = line();
        expect(l).toMatchObject({ trace_id: 'a'.repeat(32), span_id: 'b'.repeat(16) });
        expect(l).not.toHaveProperty('traceId');
      });
    });
    expect(line()).not.toHaveProperty('trace_id');
    request.end();
  });
});
