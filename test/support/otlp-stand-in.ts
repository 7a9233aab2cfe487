import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A collector stand-in for the unit tests: it takes every OTLP export and keeps nothing, so a
 * test that needs tracing on reads ids and traceparents while the spans go somewhere real.
 * (test/tracing.e2e.spec.ts has a receiver that keeps and decodes what it gets.)
 */
export function otlpStandIn(): { start(): Promise<void>; url(): string; close(): Promise<void> } {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
  });
  return {
    start: () => new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve)),
    url: () => `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
