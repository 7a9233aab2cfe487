import { describeUnrunTsql } from '../../../../test/support/tsql';
import { ArchiveManifest1764633600000 } from '../migrations/1764633600000-archive-manifest';
import { archiveManifestSql as sql } from './archive-manifest.sql';

/**
 * SQL Server cannot run here: this only checks the manifest's statements for SQL Server are
 * free of PostgreSQL-only syntax and, where node-sql-parser's T-SQL grammar knows the
 * construct, parse. None of it was executed on a SQL Server; the statements stay unverified.
 */
describeUnrunTsql(
  'the archive manifest on SQL Server (statements built, not executed)',
  [
    ['the blobs holding an offset range', sql.blobsBetween('mssql'), 'parse'],
    // MERGE, OUTPUT, OPENJSON ... WITH and table hints are beyond the grammar:
    ['lock a partition (creating its row)', sql.lockPartition('mssql'), 'tokens-only'],
    ['claim a blob and its events', sql.claimBlob('mssql'), 'tokens-only'],
    ['mark a blob stored', sql.markStored('mssql'), 'tokens-only'],
    ["a blob's state and lines", sql.contents('mssql'), 'tokens-only'],
  ],
  new ArchiveManifest1764633600000(),
  5,
);
