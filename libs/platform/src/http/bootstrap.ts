import type { DynamicModule, INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { json, type Express, type NextFunction, type Request, type Response } from 'express';
import helmet from 'helmet';
import type { Logger } from '../logging/logger';
import { NestLoggerAdapter } from '../logging/logger';
import { httpMetricsMiddleware, metricsEndpoint } from '../metrics/http.metrics';
import { serviceRegistry } from '../metrics/registry';
import { httpTracingMiddleware } from '../tracing/http.tracing';
import { correlationMiddleware } from './correlation.middleware';
import { mountApiDocs } from './openapi/api-docs';
import { openApiDocument, routesOf, undocumented } from './openapi/openapi-document';
import { ProblemDetailsFilter } from './problem.filter';

export interface HttpServiceOptions {
  name: string;
  module: DynamicModule;
  port: number;
  host?: string;
  logger: Logger;
  /** Request bodies above this are refused with 413 before any handler runs. */
  bodyLimit?: string;
  /** The API's version in its OpenAPI document. */
  apiVersion?: string;
}

export async function startHttpService(options: HttpServiceOptions): Promise<INestApplication> {
  const app = await NestFactory.create<NestExpressApplication>(options.module, {
    logger: new NestLoggerAdapter(options.logger.child({ component: 'nest' })),
    bodyParser: false,
    abortOnError: false,
  });
  // First, so every answer is counted, the body parser's refusals included.
  const metrics = serviceRegistry(options.name);
  app.use(httpMetricsMiddleware(metrics));
  app.use(securityHeaders);
  app.use(json({ limit: options.bodyLimit ?? '64kb', strict: false, type: ['application/json', 'application/*+json'] }));
  app.use(bodyErrorsAsProblems);
  app.use(jsonOnly);
  // After the body parser: its callbacks run in the socket's async context, which would lose the span.
  app.use(httpTracingMiddleware(options.name));
  app.use(correlationMiddleware);
  // Unauthenticated like /health: counts, durations and backlogs by fixed labels, no ids or secrets.
  (app.getHttpAdapter().getInstance() as Express).get('/metrics', metricsEndpoint(metrics, options.logger));
  // Built once, here, from the routes Nest is about to serve; unauthenticated like /metrics.
  const document = openApiDocument(routesOf(app), { title: `${options.name} service`, version: options.apiVersion ?? '0.1.0' });
  const missing = undocumented(document);
  if (missing.length) options.logger.warn('routes without @ApiOperation are undocumented in /openapi.json', { routes: missing });
  mountApiDocs(app.getHttpAdapter().getInstance() as Express, document);
  app.useGlobalFilters(new ProblemDetailsFilter(options.logger));
  app.disable('x-powered-by');
  await app.listen(options.port, options.host ?? '127.0.0.1');
  const address = app.getHttpServer().address();
  options.logger.info(`${options.name} listening`, { port: typeof address === 'object' && address ? address.port : options.port });
  return app;
}

export function boundPort(app: INestApplication): number {
  const address = app.getHttpServer().address();
  return typeof address === 'object' && address ? address.port : 0;
}

/**
 * Closes the given apps (in order) on SIGTERM/SIGINT, then runs `after`. Nest's own hooks are
 * not used because the embedded mode runs four apps in one process.
 */
export function closeOnSignals(apps: INestApplication[], after: () => Promise<void> = async () => {}): void {
  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    try {
      for (const app of apps) await app.close();
      await after();
    } finally {
      process.exit(signal === 'SIGTERM' || signal === 'SIGINT' ? 0 : 1);
    }
  };
  // `on`, not `once`: a second signal during a graceful stop must not kill the process outright.
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

/**
 * The headers helmet sets, for APIs: no sniffing, no framing (CSP frame-ancestors and
 * X-Frame-Options), no referrer, a CSP that lets an answer load nothing, and HSTS left to
 * whatever terminates TLS in front of the service. No CORS headers at all: the APIs are for
 * servers and tools, a browser page from another origin cannot call them (the console calls
 * them from its own backend).
 */
const securityHeaders = helmet({
  contentSecurityPolicy: {
    useDefaults: false,
    directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"], baseUri: ["'none'"], formAction: ["'none'"] },
  },
  frameguard: { action: 'deny' },
  strictTransportSecurity: false,
  crossOriginResourcePolicy: { policy: 'same-origin' },
});

/** Body-parser failures (malformed JSON, too large) answer as problem+json before any route. */
function bodyErrorsAsProblems(err: unknown, req: Request, res: Response, next: NextFunction): void {
  const e = err as { type?: string; limit?: number; status?: number; message?: string };
  const problem =
    e?.type === 'entity.parse.failed'
      ? { title: 'Malformed JSON', status: 400, detail: 'The request body is not valid JSON', errors: [{ field: '(body)', message: 'malformed JSON' }] }
      : e?.type === 'entity.too.large'
        ? {
            title: 'Payload Too Large',
            status: 413,
            detail: `The request body exceeds ${e.limit} bytes`,
            errors: [{ field: '(body)', message: `larger than ${e.limit} bytes` }],
          }
        : typeof e?.status === 'number' && e.status >= 400 && e.status < 500
          ? {
              title: 'Bad Request',
              status: e.status,
              detail: e.message ?? 'bad request',
              errors: [{ field: '(body)', message: e.message ?? 'unreadable body' }],
            }
          : undefined;
  if (!problem) return next(err);
  res
    .status(problem.status)
    .type('application/problem+json')
    .send(JSON.stringify({ type: `https://httpstatuses.io/${problem.status}`, ...problem, instance: req.originalUrl }));
}

/** A request body that is not JSON is refused (415) rather than read as no body. */
function jsonOnly(req: Request, res: Response, next: NextFunction): void {
  const hasBody = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
  if (!hasBody || !['POST', 'PUT', 'PATCH'].includes(req.method) || req.is(['application/json', 'application/*+json'])) return next();
  res
    .status(415)
    .type('application/problem+json')
    .send(
      JSON.stringify({
        type: 'https://httpstatuses.io/415',
        title: 'Unsupported Media Type',
        status: 415,
        detail: 'Send the body as application/json',
        errors: [{ field: 'Content-Type', message: 'must be application/json' }],
        instance: req.originalUrl,
      }),
    );
}
