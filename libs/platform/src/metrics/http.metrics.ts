import type { NextFunction, Request, Response } from 'express';
import { Counter, Histogram, type Registry } from 'prom-client';
import type { Logger } from '../logging/logger';
import { METRIC_PREFIX, perRegistry, secondsSince } from './registry';

/** The route label of a request no route answered (404s, body errors before routing): never its URL. */
export const UNMATCHED_ROUTE = 'unmatched';

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
const STATUS_CLASSES = ['other', '1xx', '2xx', '3xx', '4xx', '5xx'];

export const httpMetrics = perRegistry((registry: Registry) => {
  const labelNames = ['route', 'method', 'status_class'] as const;
  return {
    requests: new Counter({
      name: `${METRIC_PREFIX}http_requests_total`,
      help: 'HTTP requests answered, by route template, method and status class',
      labelNames,
      registers: [registry],
    }),
    duration: new Histogram({
      name: `${METRIC_PREFIX}http_request_duration_seconds`,
      help: 'Time from a request arriving to its answer being sent, by route template, method and status class',
      labelNames,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
  };
});

/** The route template that answered (`/api/orders/:id`), or `unmatched`: the label set is the app's routes. */
export function routeLabel(req: Pick<Request, 'baseUrl'> & { route?: { path?: unknown } }): string {
  const path = req.route?.path;
  return typeof path === 'string' ? `${req.baseUrl ?? ''}${path}` : UNMATCHED_ROUTE;
}

export function methodLabel(method: string): string {
  return METHODS.has(method) ? method : 'OTHER';
}

export function statusClass(status: number): string {
  return STATUS_CLASSES[Math.floor(status / 100)] ?? 'other';
}

/** Counts and times every answer; the labels are read when it has been sent, once the route is known. */
export function httpMetricsMiddleware(registry: Registry) {
  const { requests, duration } = httpMetrics(registry);
  return (req: Request, res: Response, next: NextFunction): void => {
    const started = performance.now();
    res.once('finish', () => {
      const labels = { route: routeLabel(req), method: methodLabel(req.method), status_class: statusClass(res.statusCode) };
      requests.inc(labels);
      duration.observe(labels, secondsSince(started));
    });
    next();
  };
}

/** `GET /metrics`: the registry in Prometheus' text format; a failed collection is a 500 problem, logged. */
export function metricsEndpoint(registry: Registry, logger: Logger) {
  return (req: Request, res: Response): void => {
    registry.metrics().then(
      (text) => void res.status(200).setHeader('content-type', registry.contentType).send(text),
      (error: unknown) => {
        logger.error('metrics collection failed', { error: error instanceof Error ? error.message : String(error) });
        res
          .status(500)
          .type('application/problem+json')
          .send(JSON.stringify({ type: 'https://httpstatuses.io/500', title: 'Internal Server Error', status: 500, instance: req.originalUrl }));
      },
    );
  };
}
