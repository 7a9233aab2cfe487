import type { QueryRunner } from 'typeorm';
import { parsesAsTsql, postgresTokensIn } from '../../../../test/support/tsql';
import { ParkedDeadLetters1765065600000 } from '../migrations/1765065600000-parked-dead-letters';
import { parkedDeadLettersSql as sql } from './parked-dead-letters.sql';

/**
 * SQL Server cannot run here: this only checks that the parked dead letters' statements for SQL
 * Server are free of PostgreSQL-only syntax and, where node-sql-parser's T-SQL grammar knows the
 * construct, parse. None of it was executed on a SQL Server.
 */
const unbracketedPartition = /(?<![[\w])partition(?![\]\w])/i;

describe('the parked dead letters on SQL Server (statements built, not executed)', () => {
  const statements: Array<[string, string, 'parse' | 'tokens-only']> = [
    ['one', sql.one('mssql'), 'parse'],
    // TOP (@n), table hints, OUTPUT, OPENJSON and @@ROWCOUNT are beyond the grammar:
    ['park', sql.park('mssql'), 'tokens-only'],
    ['a page', sql.page('mssql'), 'tokens-only'],
    ['a batch to replay', sql.between('mssql'), 'tokens-only'],
    ['delete ids', sql.deleteIds('mssql'), 'tokens-only'],
    ['delete all', sql.deleteAll('mssql'), 'tokens-only'],
    ['count', sql.summary('mssql'), 'tokens-only'],
  ];

  it.each(statements)('%s', (_, text, check) => {
    expect(postgresTokensIn(text)).toEqual([]);
    expect(text).not.toMatch(unbracketedPartition);
    if (check === 'parse') expect(parsesAsTsql(text)).toEqual({ ok: true });
  });

  it('creates the table without PostgreSQL-only syntax, and with `partition` bracketed', async () => {
    const statements: string[] = [];
    const q = { connection: { options: { type: 'mssql' } }, query: async (s: string) => void statements.push(s) } as unknown as QueryRunner;
    await new ParkedDeadLetters1765065600000().up(q);
    expect(statements).toHaveLength(1);
    expect(postgresTokensIn(statements[0])).toEqual([]);
    expect(statements[0]).not.toMatch(unbracketedPartition);
  });
});
