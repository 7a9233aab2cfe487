import { EventEmitter } from 'node:events';
import type { NextFunction, Request, Response } from 'express';
import { Registry } from 'prom-client';
import { createLogger } from '../logging/logger';
import { httpMetricsMiddleware, methodLabel, metricsEndpoint, routeLabel, statusClass, UNMATCHED_ROUTE } from './http.metrics';
import { perRegistry, serviceRegistry, withinScrape } from './registry';

async function valueOf(registry: Registry, name: string, labels: Record<string, string>): Promise<number | undefined> {
  const metric = await registry.getSingleMetric(name)?.get();
  return metric?.values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))?.value;
}

/** A request through the middleware, answered with `status` once `route` (if any) matched it. */
function answer(middleware: ReturnType<typeof httpMetricsMiddleware>, req: Partial<Request>, status: number): void {
  const res = Object.assign(new EventEmitter(), { statusCode: status }) as unknown as Response;
  const next: NextFunction = () => undefined;
  middleware({ baseUrl: '', ...req } as Request, res, next);
  res.emit('finish');
}

describe('HTTP metrics', () => {
  it('labels a request by its route template, never by its URL; no route is "unmatched"', () => {
    expect(routeLabel({ baseUrl: '', route: { path: '/api/orders/:id' } })).toBe('/api/orders/:id');
    expect(routeLabel({ baseUrl: '/admin', route: { path: '/dead-letters/:id' } })).toBe('/admin/dead-letters/:id');
    expect(routeLabel({ baseUrl: '' })).toBe(UNMATCHED_ROUTE);
    expect(routeLabel({ baseUrl: '', route: { path: /^\/x/ } })).toBe(UNMATCHED_ROUTE);
  });

  it('keeps method and status labels to fixed sets', () => {
    expect(['GET', 'POST', 'DELETE', 'PROPFIND', 'get'].map(methodLabel)).toEqual(['GET', 'POST', 'DELETE', 'OTHER', 'OTHER']);
    expect([101, 200, 202, 302, 404, 413, 500, 503, 99, 600].map(statusClass)).toEqual([
      '1xx',
      '2xx',
      '2xx',
      '3xx',
      '4xx',
      '4xx',
      '5xx',
      '5xx',
      'other',
      'other',
    ]);
  });

  it('counts and times each answer once it is sent', async () => {
    const registry = new Registry();
    const middleware = httpMetricsMiddleware(registry);
    answer(middleware, { method: 'POST', route: { path: '/api/orders' } } as Partial<Request>, 202);
    answer(middleware, { method: 'POST', route: { path: '/api/orders' } } as Partial<Request>, 201);
    answer(middleware, { method: 'GET', originalUrl: '/api/orders/3f1d7a43/nope' } as Partial<Request>, 404);
    expect(await valueOf(registry, 'saga_http_requests_total', { route: '/api/orders', method: 'POST', status_class: '2xx' })).toBe(2);
    expect(await valueOf(registry, 'saga_http_requests_total', { route: 'unmatched', method: 'GET', status_class: '4xx' })).toBe(1);
    const text = await registry.metrics();
    expect(text).toContain('saga_http_request_duration_seconds_count{route="/api/orders",method="POST",status_class="2xx"} 2');
    expect(text).not.toContain('3f1d7a43');
  });

  it('answers the registry in the text format, and a failed collection as a 500 problem', async () => {
    const registry = new Registry();
    registry.setDefaultLabels({ service: 'test' });
    httpMetricsMiddleware(registry);
    const reply = () => {
      const res = {
        headers: {} as Record<string, string>,
        code: 0,
        body: '',
        status(c: number) {
          this.code = c;
          return this;
        },
        setHeader(k: string, v: string) {
          this.headers[k] = v;
          return this;
        },
        type(t: string) {
          this.headers['content-type'] = t;
          return this;
        },
        send(b: string) {
          this.body = b;
          done();
          return this;
        },
      };
      let done: () => void = () => undefined;
      const sent = new Promise<void>((r) => (done = r));
      return { res, sent };
    };
    const endpoint = metricsEndpoint(registry, createLogger({ service: 'test', level: 'silent' }));
    const ok = reply();
    endpoint({ originalUrl: '/metrics' } as Request, ok.res as unknown as Response);
    await ok.sent;
    expect(ok.res.code).toBe(200);
    expect(ok.res.headers['content-type']).toBe(registry.contentType);
    expect(ok.res.body).toContain('# TYPE saga_http_requests_total counter');

    jest.spyOn(registry, 'metrics').mockRejectedValueOnce(new Error('collector broke'));
    const failed = reply();
    endpoint({ originalUrl: '/metrics' } as Request, failed.res as unknown as Response);
    await failed.sent;
    expect(failed.res.code).toBe(500);
    expect(failed.res.headers['content-type']).toBe('application/problem+json');
    expect(failed.res.body).not.toContain('collector broke');
  });
});

describe('service registries', () => {
  it('gives each service its own registry, labelled with its name, with the default metrics', async () => {
    const a = serviceRegistry('unit-a');
    expect(serviceRegistry('unit-a')).toBe(a);
    const b = serviceRegistry('unit-b');
    expect(b).not.toBe(a);
    const text = await a.metrics();
    expect(text).toMatch(/^process_cpu_seconds_total\{service="unit-a"\} /m);
    expect(text).not.toContain('service="unit-b"');
  });

  it("builds a component's families once per registry", () => {
    const build = jest.fn(() => ({}));
    const families = perRegistry(build);
    const r1 = new Registry();
    const r2 = new Registry();
    expect(families(r1)).toBe(families(r1));
    families(r2);
    expect(build).toHaveBeenCalledTimes(2);
  });
});

describe('withinScrape', () => {
  it('answers what the work answered, and undefined for work that fails or outlasts the deadline', async () => {
    expect(await withinScrape(async () => 7)).toBe(7);
    expect(await withinScrape(() => Promise.reject(new Error('down')))).toBeUndefined();
    const started = Date.now();
    expect(await withinScrape(() => new Promise<number>(() => undefined), 50)).toBeUndefined();
    expect(Date.now() - started).toBeLessThan(1000);
  });
});
