import { Client } from 'pg';
import { testDatabaseName } from './test-run';

/** The real PostgreSQL integration tests talk to; a missing server fails the suite. */
export const adminDatabaseUrl = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export function databaseUrl(name: string): string {
  const u = new URL(adminDatabaseUrl);
  u.pathname = `/${name}`;
  return u.toString();
}

/** Creates a throwaway database; returns its URL and a drop function. */
export async function createTestDatabase(prefix = 'saga_it'): Promise<{ url: string; name: string; drop(): Promise<void> }> {
  const name = testDatabaseName(prefix);
  const admin = new Client({ connectionString: adminDatabaseUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  return {
    name,
    url: databaseUrl(name),
    drop: async () => {
      const c = new Client({ connectionString: adminDatabaseUrl });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}
