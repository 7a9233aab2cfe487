import { describeUnrunTsql } from '../../../../test/support/tsql';
import { ParkedDeadLetters1765065600000 } from '../migrations/1765065600000-parked-dead-letters';
import { parkedDeadLettersSql as sql } from './parked-dead-letters.sql';

/**
 * SQL Server cannot run here: this only checks that the parked dead letters' statements for SQL
 * Server are free of PostgreSQL-only syntax and, where node-sql-parser's T-SQL grammar knows the
 * construct, parse. None of it was executed on a SQL Server.
 */
describeUnrunTsql(
  'the parked dead letters on SQL Server (statements built, not executed)',
  [
    ['one', sql.one('mssql'), 'parse'],
    // TOP (@n), table hints, OUTPUT, OPENJSON and @@ROWCOUNT are beyond the grammar:
    ['park', sql.park('mssql'), 'tokens-only'],
    ['a page', sql.page('mssql'), 'tokens-only'],
    ['a batch to replay', sql.between('mssql'), 'tokens-only'],
    ['delete ids', sql.deleteIds('mssql'), 'tokens-only'],
    ['delete all', sql.deleteAll('mssql'), 'tokens-only'],
    ['count', sql.summary('mssql'), 'tokens-only'],
  ],
  new ParkedDeadLetters1765065600000(),
  1,
);
