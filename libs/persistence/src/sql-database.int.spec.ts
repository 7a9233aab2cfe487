import { Pool } from 'pg';
import type { DataSource } from 'typeorm';
import { createTestDatabase } from '../../../test/support/postgres';
import { openDataSource } from './data-source';
import { sqlDatabaseOf, type SqlDatabase } from './sql-database';

/**
 * The SQL seam on a real PostgreSQL whose server goes away under a transaction: what a restart
 * of PostgreSQL does to a service that is busy (seen in the chaos soak, where it ended
 * Analytics: an 'error' event of a checked-out client that nothing listened to).
 */
describe('SqlDatabase on PostgreSQL, when the server drops the connection', () => {
  let dbInfo: Awaited<ReturnType<typeof createTestDatabase>>;
  let ds: DataSource;
  let db: SqlDatabase;
  let admin: Pool;

  beforeAll(async () => {
    dbInfo = await createTestDatabase();
    ds = await openDataSource({ database: { kind: 'postgres', url: dbInfo.url }, entities: [], migrations: [], runMigrations: false });
    db = sqlDatabaseOf(ds);
    admin = new Pool({ connectionString: dbInfo.url, max: 1 });
  });
  afterAll(async () => {
    await admin?.end();
    await ds?.destroy();
    await dbInfo?.drop();
  });

  it('fails the transaction in flight with the error, keeps the process alive, and serves the next one on a new connection', async () => {
    const uncaught: Error[] = [];
    const onUncaught = (error: Error) => uncaught.push(error);
    process.on('uncaughtException', onUncaught);
    try {
      let backend = 0;
      const inFlight = db.transaction(async (s) => {
        backend = Number((await s.query<{ pid: number }>('SELECT pg_backend_pid() AS pid'))[0].pid);
        await s.query('SELECT pg_sleep(10)');
      });
      while (backend === 0) await new Promise((r) => setTimeout(r, 10));
      // As a restart does: the server ends the backend and closes its socket.
      await admin.query('SELECT pg_terminate_backend($1)', [backend]);
      await expect(inFlight).rejects.toThrow();
      await new Promise((r) => setTimeout(r, 200));
      expect(uncaught.map(String)).toEqual([]);
      const [row] = await db.transaction((s) => s.query<{ ok: number }>('SELECT 1 AS ok'));
      expect(row.ok).toBe(1);
    } finally {
      process.off('uncaughtException', onUncaught);
    }
  });
});
