import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { configureTracing, serviceTracer, shutdownTracing } from './tracing';

// A file of its own: tracing is configured once per process (here, per test file).
describe('tracing at shutdown', () => {
  it('gives up on the last export after its bound when the collector never answers, so a stop is not held up', async () => {
    const held: ServerResponse[] = [];
    const collector = createServer((req, res) => {
      req.resume();
      held.push(res);
    });
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    try {
      configureTracing({ OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(collector.address() as AddressInfo).port}` });
      serviceTracer('order').startSpan('POST /api/orders').end();
      const started = Date.now();
      await shutdownTracing();
      // The bound is 2 s; the exporter alone would wait its 10 s timeout and retry.
      expect(Date.now() - started).toBeLessThan(4000);
      expect(held.length).toBeGreaterThanOrEqual(1);
    } finally {
      for (const r of held) r.destroy();
      collector.closeAllConnections();
      await new Promise((resolve) => collector.close(resolve));
    }
  });
});
