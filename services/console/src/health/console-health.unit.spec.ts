import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { consoleReadinessProbes } from './console-health';

const upstreams = {
  order: 'http://order',
  payment: 'http://payment',
  inventory: 'http://inventory',
  analytics: 'http://analytics',
  notification: 'http://notification',
};

describe("the console's readiness probes", () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'console-web-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const outcome = (check: () => Promise<void>) =>
    check().then(
      () => 'up',
      (e: Error) => e.message,
    );

  it('gates readiness on the built page only, and reports every service beside it', () => {
    const probes = consoleReadinessProbes({ webDir: dir, upstreams });
    expect(probes.filter((p) => !p.reportOnly).map((p) => p.name)).toEqual(['page']);
    expect(probes.filter((p) => p.reportOnly).map((p) => p.name)).toEqual(['order', 'payment', 'inventory', 'analytics', 'notification']);
  });

  it('is ready once index.html is there', async () => {
    const [page] = consoleReadinessProbes({ webDir: dir, upstreams });
    expect(await outcome(page!.check)).toMatch(/the page is not built .*npm run build/);
    writeFileSync(join(dir, 'index.html'), '<!doctype html>');
    expect(await outcome(page!.check)).toBe('up');
  });

  it('reports a service up only when its /health/ready answers 200, and why not otherwise', async () => {
    const called: string[] = [];
    const fakeFetch = (async (url: string) => {
      called.push(url);
      if (url.startsWith('http://payment')) throw new TypeError('fetch failed', { cause: Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }) });
      if (url.startsWith('http://analytics')) throw new DOMException('The operation was aborted due to timeout', 'TimeoutError');
      return new Response('{}', { status: url.startsWith('http://inventory') ? 503 : 200 });
    }) as unknown as typeof fetch;
    const probes = consoleReadinessProbes({ webDir: dir, upstreams }, fakeFetch).filter((p) => p.reportOnly);
    const results = Object.fromEntries(await Promise.all(probes.map(async (p) => [p.name, await outcome(p.check)])));
    expect(results).toEqual({
      order: 'up',
      payment: 'payment is unreachable: ECONNREFUSED',
      inventory: 'inventory is not ready (/health/ready answered 503)',
      analytics: 'analytics is unreachable: The operation was aborted due to timeout',
      notification: 'up',
    });
    expect(called).toContain('http://order/health/ready');
  });
});
