import type { PGlite } from '@electric-sql/pglite';
import type { DataSource } from 'typeorm';
import { openDataSource, openPglite } from './data-source';
import { sleep } from '@app/platform';

describe('PGlite behind a pg-shaped pool', () => {
  let pglite: PGlite;
  let a: DataSource;
  let b: DataSource;

  beforeAll(async () => {
    pglite = await openPglite();
    a = await openDataSource({ database: { kind: 'pglite', pglite, schema: 'svc_a' }, entities: [], migrations: [] });
    b = await openDataSource({ database: { kind: 'pglite', pglite, schema: 'svc_b' }, entities: [], migrations: [] });
    await a.query('CREATE TABLE items (id int PRIMARY KEY)');
    await b.query('CREATE TABLE items (id int PRIMARY KEY, label text)');
  });
  afterAll(async () => {
    await a?.destroy();
    await b?.destroy();
    await pglite?.close();
  });

  it('keeps each service in its own schema on one PGlite', async () => {
    await a.query('INSERT INTO items VALUES (1)');
    await b.query("INSERT INTO items VALUES (1, 'b')");
    expect(await a.query('SELECT * FROM items')).toEqual([{ id: 1 }]);
    expect(await b.query('SELECT * FROM items')).toEqual([{ id: 1, label: 'b' }]);
    await a.query('DELETE FROM items');
    await b.query('DELETE FROM items');
  });

  it('does not interleave concurrent transactions on the one session', async () => {
    const seenInside: number[] = [];
    const slowRollback = a
      .transaction(async (m) => {
        await m.query('INSERT INTO items VALUES (42)');
        await sleep(50);
        throw new Error('roll back');
      })
      .catch(() => 'rolled back');
    const reader = a.transaction(async (m) => {
      seenInside.push(Number((await m.query('SELECT count(*)::int AS n FROM items'))[0].n));
    });
    const other = b.transaction(async (m) => {
      await m.query("INSERT INTO items VALUES (7, 'x')");
    });
    expect(await slowRollback).toBe('rolled back');
    await Promise.all([reader, other]);
    expect(seenInside).toEqual([0]);
    expect(await a.query('SELECT * FROM items')).toEqual([]);
    expect(await b.query('SELECT id FROM items')).toEqual([{ id: 7 }]);
  });
});
