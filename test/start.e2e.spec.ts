import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { until } from './support/wait';

const entry = join(__dirname, '..', 'dist', 'services', 'embedded', 'src', 'main.js');

/**
 * What `npm start` runs, as a separate process on a fresh data directory: it seeds the demo
 * data, takes an order through the saga, keeps its data across a restart, and exits cleanly on
 * SIGTERM. Needs the build (`npm test` builds first).
 */
describe('npm start (embedded mode, built)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'saga-start-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function boot(): Promise<{ child: ChildProcess; urls: Record<string, string>; exited: Promise<number | null> }> {
    if (!existsSync(entry)) throw new Error(`${entry} is missing: run npm run build first`);
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      LOG_FORMAT: 'json',
      LOG_LEVEL: 'info',
      ORDER_PORT: '0',
      PAYMENT_PORT: '0',
      INVENTORY_PORT: '0',
      ANALYTICS_PORT: '0',
      CONSOLE_PORT: '0',
    };
    // As on a fresh machine: no token given, so the embedded mode makes one.
    delete env.ADMIN_TOKEN;
    delete env.PGLITE_DATA_DIR;
    const child = spawn(process.execPath, [entry], {
      cwd: dir,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    let out = '';
    child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
    let exitedEarly: number | null | undefined;
    void exited.then((code) => (exitedEarly = code));
    const line = await until(
      () => {
        if (exitedEarly !== undefined) throw new Error(`npm start exited with ${exitedEarly} before it was up:\n${out.slice(-2000)}`);
        return out.split('\n').find((l) => l.includes('order saga platform is up'));
      },
      Boolean,
      60_000,
      'startup',
    ).catch((error: Error) => {
      throw new Error(`${error.message}\noutput so far:\n${out.slice(-2000)}`);
    });
    const urls = JSON.parse(line!) as Record<string, string>;
    return { child, urls, exited };
  }

  it('starts on a fresh machine with demo data, runs a saga, restarts with its data, and stops on SIGTERM', async () => {
    const first = await boot();
    try {
      const token = join(dir, '.data', 'admin-token');
      expect(existsSync(token)).toBe(true);
      expect(statSync(token).mode & 0o077).toBe(0);

      const products = (await (await fetch(`${first.urls.order}/api/products`)).json()) as any;
      expect(products.items.length).toBeGreaterThan(0);
      const res = await fetch(`${first.urls.order}/api/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ customerId: 'alice', items: [{ sku: 'KB-001', quantity: 1 }] }),
      });
      expect(res.status).toBe(202);
      const { orderId } = (await res.json()) as any;
      const order = await until(
        () => fetch(`${first.urls.order}/api/orders/${orderId}`).then((r) => r.json() as Promise<any>),
        (o) => o.status === 'CONFIRMED',
        15_000,
        'confirmation',
      );
      expect(order.total).toBe(89);

      first.child.kill('SIGTERM');
      expect(await first.exited).toBe(0);

      const second = await boot();
      try {
        const again = await fetch(`${second.urls.order}/api/orders/${orderId}`).then((r) => r.json() as Promise<any>);
        expect(again.status).toBe('CONFIRMED');
        const alice = await fetch(`${second.urls.payment}/api/accounts/alice`).then((r) => r.json() as Promise<any>);
        expect(alice.balance).toBe(1000 - 89);
      } finally {
        second.child.kill('SIGTERM');
        expect(await second.exited).toBe(0);
      }
    } finally {
      if (first.child.exitCode === null) first.child.kill('SIGKILL');
    }
  });
});
