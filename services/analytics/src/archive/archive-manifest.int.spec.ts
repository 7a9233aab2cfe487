import type { PGlite } from '@electric-sql/pglite';
import { openDataSource, openPglite, sqlDatabaseOf } from '@app/persistence';
import type { DataSource } from 'typeorm';
import { createTestDatabase } from '../../../../test/support/postgres';
import { AnalyticsTables1763769600004 } from '../migrations/1763769600004-analytics-tables';
import { ArchiveManifest1764633600000 } from '../migrations/1764633600000-archive-manifest';
import { SqlArchiveManifest, type ClaimRecord } from './archive-manifest';

const topic = 'order-events';
const at = Date.UTC(2026, 0, 1, 10);
const records = (from: number, to: number, id: (offset: number) => string | null = (o) => `m-${o}`): ClaimRecord[] =>
  Array.from({ length: to - from + 1 }, (_, i) => ({ offset: from + i, timestamp: at, messageId: id(from + i) }));

/** The same statements on a PostgreSQL server (the service) and on PGlite (the embedded mode). */
const databases: Array<[string, () => Promise<{ ds: DataSource; close(): Promise<void> }>]> = [
  [
    'PostgreSQL',
    async () => {
      const db = await createTestDatabase('saga_it_archive');
      const ds = await openDataSource({
        database: { kind: 'postgres', url: db.url },
        entities: [],
        migrations: [AnalyticsTables1763769600004, ArchiveManifest1764633600000],
      });
      return { ds, close: async () => (await ds.destroy(), await db.drop()) };
    },
  ],
  [
    'PGlite',
    async () => {
      const pglite: PGlite = await openPglite();
      const ds = await openDataSource({
        database: { kind: 'pglite', pglite, schema: 'analytics' },
        entities: [],
        migrations: [AnalyticsTables1763769600004, ArchiveManifest1764633600000],
      });
      return { ds, close: async () => (await ds.destroy(), await pglite.close()) };
    },
  ],
];

describe.each(databases)('the archive manifest on %s', (_name, open) => {
  let db: Awaited<ReturnType<typeof open>>;
  let manifest: SqlArchiveManifest;

  beforeAll(async () => {
    db = await open();
    manifest = new SqlArchiveManifest(sqlDatabaseOf(db.ds));
  });
  afterAll(async () => db?.close());
  beforeEach(async () => {
    await db.ds.query('DELETE FROM archive_events');
    await db.ds.query('DELETE FROM archive_blobs');
    await db.ds.query('DELETE FROM archive_partitions');
  });

  it('claims a blob pending, one line per messageId at its first offset, none for poison', async () => {
    const claim = await manifest.claim(topic, 0, [
      ...records(0, 2),
      { offset: 3, timestamp: at, messageId: null },
      { offset: 4, timestamp: at, messageId: 'm-1' },
    ]);
    expect(claim.taken).toEqual([]);
    expect(claim.blob).toMatchObject({ name: 'events/2026/01/01/10/order-events-p0-000000000000-000000000004.ndjson.gz', firstOffset: 0, lastOffset: 4 });
    expect([...claim.blob!.lines].sort()).toEqual([0, 1, 2]);
    expect(await manifest.blobsFrom(topic, 0, 3)).toEqual([{ name: claim.blob!.name, firstOffset: 0, lastOffset: 4, state: 'pending' }]);
  });

  it('answers records claimed before as taken, and claims only the rest', async () => {
    const first = await manifest.claim(topic, 0, records(0, 4));
    const second = await manifest.claim(topic, 0, records(2, 7));
    expect(second.taken.map((b) => b.name)).toEqual([first.blob!.name]);
    expect(second.blob).toMatchObject({ firstOffset: 5, lastOffset: 7 });
    expect(await manifest.claim(topic, 0, records(1, 3))).toEqual({ blob: null, taken: [expect.objectContaining({ name: first.blob!.name })] });
  });

  it('never makes a messageId a line twice, in a later blob or on another partition', async () => {
    await manifest.claim(
      topic,
      0,
      records(0, 1, (o) => `id-${o}`),
    );
    const later = await manifest.claim(
      topic,
      0,
      records(2, 3, (o) => `id-${o - 2}`),
    );
    expect([...later.blob!.lines]).toEqual([]);
    const elsewhere = await manifest.claim(
      topic,
      1,
      records(0, 1, (o) => (o === 0 ? 'id-0' : 'id-new')),
    );
    expect([...elsewhere.blob!.lines]).toEqual([1]);
  });

  it('given two owners claiming the same records at once, then each record is claimed by one blob', async () => {
    const [a, b] = await Promise.all([manifest.claim(topic, 0, records(0, 5)), manifest.claim(topic, 0, records(0, 8))]);
    const blobs = [a.blob, b.blob].filter((x) => x !== null);
    const covered = blobs.flatMap((x) => Array.from({ length: x.lastOffset - x.firstOffset + 1 }, (_, i) => x.firstOffset + i)).sort((p, q) => p - q);
    expect(covered).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8].slice(0, covered.length));
    expect(new Set(covered).size).toBe(covered.length);
    expect(Math.max(...covered)).toBeGreaterThanOrEqual(5);
    const lines = blobs.flatMap((x) => [...x.lines]);
    expect(new Set(lines).size).toBe(lines.length);
  });

  it('marks a blob stored and answers the oldest other pending blob', async () => {
    const a = await manifest.claim(topic, 0, records(0, 2));
    const b = await manifest.claim(topic, 0, records(3, 5));
    expect(await manifest.markStored(b.blob!.name, topic, 0)).toBe(0);
    expect(await manifest.markStored(a.blob!.name, topic, 0)).toBeNull();
    expect((await manifest.blobsFrom(topic, 0, 0)).map((x) => x.state)).toEqual(['stored', 'stored']);
  });

  it('tells a pending blob read again which of its records are its lines', async () => {
    await manifest.claim(
      topic,
      0,
      records(0, 0, () => 'x'),
    );
    const claim = await manifest.claim(topic, 0, [
      { offset: 1, timestamp: at, messageId: 'x' },
      { offset: 2, timestamp: at, messageId: 'y' },
      { offset: 3, timestamp: at, messageId: 'y' },
    ]);
    const contents = await manifest.contents(claim.blob!.name, [
      { offset: 1, messageId: 'x' },
      { offset: 2, messageId: 'y' },
      { offset: 3, messageId: 'y' },
    ]);
    expect({ state: contents.state, lines: [...contents.lines] }).toEqual({ state: 'pending', lines: [2] });
    await expect(manifest.contents('events/none', [])).rejects.toThrow(/not in the manifest/);
  });
});
