import { context, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { NextFunction, Request, Response } from 'express';
import { methodLabel, routeLabel } from '../metrics/http.metrics';
import { contextFrom, serviceTracer, tracingEnabled } from './tracing';

/**
 * A server span per request, continuing the caller's `traceparent` header if it sent a valid
 * one; what the request's handler writes to the outbox carries this span as its parent (the
 * unit of work reads the active span), which makes an order's saga one trace. Named by route
 * template once routing is done, never by URL. Off (no middleware at all) while tracing is off.
 */
export function httpTracingMiddleware(service: string) {
  if (!tracingEnabled()) return (_req: Request, _res: Response, next: NextFunction): void => next();
  const tracer = serviceTracer(service);
  return (req: Request, res: Response, next: NextFunction): void => {
    const header = req.headers.traceparent;
    // From the root: a kept-alive socket's callbacks may run in an earlier request's context.
    const parent = contextFrom(typeof header === 'string' && header.length <= 200 ? header : undefined, ROOT_CONTEXT);
    const span = tracer.startSpan(
      `${methodLabel(req.method)}`,
      { kind: SpanKind.SERVER, attributes: { 'http.request.method': methodLabel(req.method) } },
      parent,
    );
    res.once('finish', () => {
      const route = routeLabel(req);
      span.updateName(`${methodLabel(req.method)} ${route}`);
      span.setAttribute('http.route', route);
      span.setAttribute('http.response.status_code', res.statusCode);
      if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    });
    context.with(trace.setSpan(parent, span), next);
  };
}
