import { context, propagation, trace, type Context, type Span, type Tracer } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';

/**
 * OpenTelemetry traces, off unless an OTLP endpoint is configured (the standard
 * OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT): then every service sends
 * its spans over OTLP/HTTP (JSON), batched (OTEL_BSP_* tune the batches). Off, every call here
 * is the API's no-op and no envelope gets a traceparent it did not already have.
 *
 * One tracer provider per service name, like the metrics registries: the embedded mode runs the
 * four services in one process, and each span must still carry its own `service.name`. The
 * context manager (AsyncLocalStorage) and the W3C propagator are the process's, set once.
 */
const providers = new Map<string, BasicTracerProvider>();
let exporterFactory: (() => SpanExporter) | undefined;
/** OTEL_BSP_SCHEDULE_DELAY of the environment tracing was configured from (the SDK reads only process.env). */
let scheduledDelayMillis: number | undefined;

/** Configures tracing for this process from the environment; true if traces are exported. */
export function configureTracing(env: NodeJS.ProcessEnv = process.env): boolean {
  if (exporterFactory) return true;
  const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT;
  if (!endpoint) return false;
  // The exporter appends /v1/traces to the general endpoint and uses the traces one as given.
  const url = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || `${endpoint.replace(/\/$/, '')}/v1/traces`;
  exporterFactory = () => new OTLPTraceExporter({ url });
  const delay = Number(env.OTEL_BSP_SCHEDULE_DELAY);
  scheduledDelayMillis = Number.isFinite(delay) && delay > 0 ? delay : undefined;
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  return true;
}

export function tracingEnabled(): boolean {
  return exporterFactory !== undefined;
}

/** The tracer of one service (a no-op tracer while tracing is off). */
export function serviceTracer(service: string): Tracer {
  if (!exporterFactory) return trace.getTracer(service);
  let provider = providers.get(service);
  if (!provider) {
    provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': service, 'service.namespace': 'order-saga' }),
      spanProcessors: [new BatchSpanProcessor(exporterFactory(), scheduledDelayMillis ? { scheduledDelayMillis } : {})],
    });
    providers.set(service, provider);
  }
  return provider.getTracer(service);
}

/** How long a shutdown waits for the last spans to be exported: a collector that is down must not hold up a stop. */
const SHUTDOWN_FLUSH_MS = 2000;

/** Sends what every service's processor still holds (for at most SHUTDOWN_FLUSH_MS), then stops them. */
export async function shutdownTracing(): Promise<void> {
  const all = [...providers.values()];
  providers.clear();
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, SHUTDOWN_FLUSH_MS);
    timer.unref();
  });
  await Promise.race([Promise.all(all.map((p) => p.shutdown().catch(() => undefined))), late]);
  clearTimeout(timer);
}

/** The W3C `traceparent` of a span (for an envelope or a header); undefined while tracing is off. */
export function traceparentOf(span: Span): string | undefined {
  if (!exporterFactory) return undefined;
  const carrier: Record<string, string> = {};
  propagation.inject(trace.setSpan(context.active(), span), carrier);
  return carrier.traceparent;
}

/** The traceparent of the span active now (an HTTP request's), if any. */
export function activeTraceparent(): string | undefined {
  const span = trace.getActiveSpan();
  return span ? traceparentOf(span) : undefined;
}

/** The context a `traceparent` (an envelope's, a request header's) names, as a parent for new spans. */
export function contextFrom(traceparent: string | undefined, base: Context = context.active()): Context {
  if (!traceparent || !exporterFactory) return base;
  return propagation.extract(base, { traceparent });
}
