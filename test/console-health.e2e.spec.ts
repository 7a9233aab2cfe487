import type { INestApplication } from '@nestjs/common';
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { boundPort } from '@app/platform';
import { loadConsoleConfig, startConsole } from '../services/console/src';

/**
 * The console on its own, as its container runs it: /health/live, /health/ready (ready when it
 * can serve its page, whatever the services' state, which it reports) and /metrics, all without
 * a session. Order is a stand-in that is ready; the others listen nowhere.
 */
describe('the console’s health and metrics', () => {
  let app: INestApplication;
  let order: Server;
  let url: string;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'console-health-'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>console</title>');
    order = createServer((req, res) => res.writeHead(req.url === '/health/ready' ? 200 : 404).end('{}'));
    await new Promise<void>((ok) => order.listen(0, '127.0.0.1', ok));
    const closed = createServer();
    await new Promise<void>((ok) => closed.listen(0, '127.0.0.1', ok));
    const nowhere = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise<void>((ok) => closed.close(() => ok()));
    app = await startConsole(
      loadConsoleConfig({
        ADMIN_TOKEN: 'console-health-test-token',
        CONSOLE_PORT: '0',
        CONSOLE_WEB_DIR: dir,
        CONSOLE_AUDIT_LOG: join(dir, 'audit.log'),
        ORDER_URL: `http://127.0.0.1:${(order.address() as AddressInfo).port}`,
        PAYMENT_URL: nowhere,
        INVENTORY_URL: nowhere,
        ANALYTICS_URL: nowhere,
        NOTIFICATION_URL: nowhere,
      }),
    );
    url = `http://127.0.0.1:${boundPort(app)}`;
  });

  afterAll(async () => {
    await app?.close();
    await new Promise<void>((ok) => order.close(() => ok()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('is alive', async () => {
    const res = await fetch(`${url}/health/live`);
    expect({ status: res.status, body: await res.json() }).toEqual({ status: 200, body: { status: 'ok' } });
  });

  it('is ready while Payment, Inventory, Analytics and Notification are down, and says which are', async () => {
    const res = await fetch(`${url}/health/ready`);
    const body = (await res.json()) as {
      status: string;
      details: Record<string, { status: string }>;
      reported: Record<string, { status: string; message?: string }>;
    };
    expect(res.status).toBe(200);
    expect(body.status).toBe('ok');
    expect(body.details).toEqual({ lifecycle: { status: 'up' }, page: { status: 'up' } });
    expect(Object.fromEntries(Object.entries(body.reported).map(([name, r]) => [name, r.status]))).toEqual({
      order: 'up',
      payment: 'down',
      inventory: 'down',
      analytics: 'down',
      notification: 'down',
    });
    expect(body.reported.payment!.message).toBeTruthy();
  });

  it('is not ready without its page, and names why', async () => {
    unlinkSync(join(dir, 'index.html'));
    try {
      const res = await fetch(`${url}/health/ready`);
      const body = (await res.json()) as { status: string; error: Record<string, { message: string }>; reported: object };
      expect(res.status).toBe(503);
      expect(body.status).toBe('error');
      expect(body.error.page!.message).toMatch(/not built/);
      expect(body.reported).toHaveProperty('order');
    } finally {
      writeFileSync(join(dir, 'index.html'), '<!doctype html><title>console</title>');
    }
    expect((await fetch(`${url}/health/ready`)).status).toBe(200);
  });

  it('serves its HTTP metrics, labelled service="console"', async () => {
    const res = await fetch(`${url}/metrics`);
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(/saga_http_requests_total\{[^}]*route="\/health\/ready"[^}]*service="console"/);
  });
});
