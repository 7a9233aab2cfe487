import { createServer, connect, type Server, type Socket } from 'node:net';
import { sleep } from '@app/platform';
import { createTestDatabase } from '../../../test/support/postgres';
import { openDataSource } from './data-source';

/**
 * A service started before its PostgreSQL (compose without health checks, a node reboot, a
 * database restarting) waits for it, as its broker connections do, instead of exiting; a server
 * that answers with a refusal fails it at once.
 */
describe('openDataSource on PostgreSQL, while the server cannot be reached', () => {
  let dbInfo: Awaited<ReturnType<typeof createTestDatabase>>;
  beforeAll(async () => {
    dbInfo = await createTestDatabase();
  });
  afterAll(() => dbInfo?.drop());

  /** A port where nothing listens until `open()`; then it forwards to the real server. */
  async function lateServer(): Promise<{ port: number; open(): Promise<void>; close(): Promise<void> }> {
    const target = new URL(dbInfo.url);
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as { port: number };
    await new Promise((resolve) => probe.close(resolve));
    let server: Server | undefined;
    const sockets = new Set<Socket>();
    return {
      port,
      open: () =>
        new Promise<void>((resolve) => {
          server = createServer((client) => {
            const upstream = connect(Number(target.port || 5432), target.hostname);
            sockets.add(client).add(upstream);
            client.pipe(upstream).pipe(client);
            const end = () => (client.destroy(), upstream.destroy());
            client.on('error', end).on('close', end);
            upstream.on('error', end).on('close', end);
          });
          server.listen(port, '127.0.0.1', () => resolve());
        }),
      close: async () => {
        for (const s of sockets) s.destroy();
        if (server) await new Promise((resolve) => server!.close(resolve));
      },
    };
  }

  const urlAt = (port: number, database = new URL(dbInfo.url).pathname.slice(1)) => {
    const u = new URL(dbInfo.url);
    u.port = String(port);
    u.pathname = `/${database}`;
    return u.toString();
  };

  it('keeps trying until the server is up, then opens', async () => {
    const late = await lateServer();
    try {
      const retries: number[] = [];
      const started = Date.now();
      const opening = openDataSource({
        database: { kind: 'postgres', url: urlAt(late.port) },
        entities: [],
        migrations: [],
        runMigrations: false,
        connectTimeoutMs: 20_000,
        onRetry: (_, delayMs) => void retries.push(delayMs),
      });
      // Settled (either way) before the server comes up would be a failure; keep the outcome.
      const outcome = opening.then(
        (ds) => ({ ds, at: Date.now() }),
        (error: unknown) => ({ error, at: Date.now() }),
      );
      await sleep(1500);
      await late.open();
      const result = await outcome;
      expect(result).not.toHaveProperty('error');
      const { ds } = result as { ds: Awaited<typeof opening> };
      try {
        expect(result.at - started).toBeGreaterThanOrEqual(1500);
        expect(retries.length).toBeGreaterThan(0);
        expect(await ds.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
      } finally {
        await ds.destroy();
      }
    } finally {
      await late.close();
    }
  });

  it('gives up after connectTimeoutMs with the connection error', async () => {
    const late = await lateServer();
    const started = Date.now();
    await expect(
      openDataSource({ database: { kind: 'postgres', url: urlAt(late.port) }, entities: [], migrations: [], runMigrations: false, connectTimeoutMs: 1000 }),
    ).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('fails at once when a server that is up refuses (a database that does not exist)', async () => {
    const started = Date.now();
    const retries: unknown[] = [];
    await expect(
      openDataSource({
        database: { kind: 'postgres', url: urlAt(Number(new URL(dbInfo.url).port || 5432), 'no_such_database_here') },
        entities: [],
        migrations: [],
        runMigrations: false,
        connectTimeoutMs: 20_000,
        onRetry: (e) => void retries.push(e),
      }),
    ).rejects.toMatchObject({ code: '3D000' });
    expect(retries).toEqual([]);
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
