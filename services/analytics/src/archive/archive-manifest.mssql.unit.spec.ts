import type { QueryRunner } from 'typeorm';
import { parsesAsTsql, postgresTokensIn } from '../../../../test/support/tsql';
import { ArchiveManifest1764633600000 } from '../migrations/1764633600000-archive-manifest';
import { archiveManifestSql as sql } from './archive-manifest.sql';

/**
 * SQL Server cannot run here: this only checks the manifest's statements for SQL Server are
 * free of PostgreSQL-only syntax and, where node-sql-parser's T-SQL grammar knows the
 * construct, parse. None of it was executed on a SQL Server; the statements stay unverified.
 */
async function recordMigration(up: (q: QueryRunner) => Promise<void>): Promise<string[]> {
  const statements: string[] = [];
  const q = { connection: { options: { type: 'mssql' } }, query: async (s: string) => void statements.push(s) } as unknown as QueryRunner;
  await up(q);
  return statements;
}

/** `partition` as a name of its own (not inside `archive_partitions`), outside brackets. */
const unbracketedPartition = /(?<![[\w])partition(?![\]\w])/i;

describe('the archive manifest on SQL Server (statements built, not executed)', () => {
  const statements: Array<[string, string, 'parse' | 'tokens-only']> = [
    ['the blobs holding an offset range', sql.blobsBetween('mssql'), 'parse'],
    // MERGE, OUTPUT, OPENJSON ... WITH and table hints are beyond the grammar:
    ['lock a partition (creating its row)', sql.lockPartition('mssql'), 'tokens-only'],
    ['claim a blob and its events', sql.claimBlob('mssql'), 'tokens-only'],
    ['mark a blob stored', sql.markStored('mssql'), 'tokens-only'],
    ["a blob's state and lines", sql.contents('mssql'), 'tokens-only'],
  ];

  it.each(statements)('%s', (_, text, check) => {
    expect(postgresTokensIn(text)).toEqual([]);
    expect(text).not.toMatch(unbracketedPartition);
    if (check === 'parse') expect(parsesAsTsql(text)).toEqual({ ok: true });
  });

  it('creates the tables without PostgreSQL-only syntax, and with `partition` bracketed', async () => {
    const created = await recordMigration((q) => new ArchiveManifest1764633600000().up(q));
    expect(created).toHaveLength(5);
    for (const text of created) {
      expect(postgresTokensIn(text)).toEqual([]);
      expect(text).not.toMatch(unbracketedPartition);
    }
  });
});
