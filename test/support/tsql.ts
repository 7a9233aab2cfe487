import { Parser } from 'node-sql-parser';
import type { QueryRunner } from 'typeorm';

/** PostgreSQL-only spellings that must never reach SQL Server. */
export const postgresOnly = [
  /\bjsonb\b/i,
  /\btimestamptz\b/i,
  /::/,
  /\bnow\(\)/i,
  /\bbigserial\b/i,
  /ON CONFLICT/i,
  /\bRETURNING\b/i,
  /\$\d/,
  /\bLIMIT\b/i,
  /FOR UPDATE/i,
  /\bpg_\w+/i,
  /\bEXCLUDED\./i,
];

const parser = new Parser();

/**
 * Parses a statement with node-sql-parser's Transact-SQL grammar. That grammar does not know
 * every T-SQL construct (OUTPUT, MERGE, DECLARE/EXEC, filtered indexes...): statements using
 * those are listed by the caller as token-checked only, so nothing is silently skipped.
 */
export function parsesAsTsql(sql: string): { ok: true } | { ok: false; error: string } {
  try {
    parser.astify(sql, { database: 'TransactSQL' });
    return { ok: true };
  } catch (e) {
    return { ok: false, error: (e as Error).message.slice(0, 300) };
  }
}

export function postgresTokensIn(sql: string): string[] {
  return postgresOnly.filter((re) => re.test(sql)).map(String);
}

/** `partition` as a name of its own (not inside `archive_partitions`), outside brackets: a keyword of T-SQL's grammar. */
const unbracketedPartition = /(?<![[\w])partition(?![\]\w])/i;

/**
 * What the SQL Server specs ask of a statement they cannot run: no PostgreSQL-only spelling,
 * `partition` bracketed, and, for `parse`, node-sql-parser's T-SQL grammar accepts it.
 */
export function tsqlProblems(text: string, check: 'parse' | 'tokens-only'): string[] {
  const problems = postgresTokensIn(text);
  if (unbracketedPartition.test(text)) problems.push('`partition` outside brackets');
  const parsed = check === 'parse' ? parsesAsTsql(text) : { ok: true as const };
  if (!parsed.ok) problems.push(parsed.error);
  return problems;
}

/** The statements a migration's `up` (or `down`) sends to SQL Server, recorded instead of run. */
export async function mssqlStatementsOf(run: (q: QueryRunner) => Promise<void>): Promise<string[]> {
  const statements: string[] = [];
  const q = { connection: { options: { type: 'mssql' } }, query: async (s: string) => void statements.push(s) } as unknown as QueryRunner;
  await run(q);
  return statements;
}

/**
 * The spec of a SQL Server dialect that cannot run here: each statement checked by
 * tsqlProblems, and the migration's `up` recorded and checked, `createStatements` statements long.
 */
export function describeUnrunTsql(
  title: string,
  statements: ReadonlyArray<readonly [string, string, 'parse' | 'tokens-only']>,
  migration: { up(q: QueryRunner): Promise<void> },
  createStatements: number,
): void {
  describe(title, () => {
    it.each(statements)('%s', (_, text, check) => {
      expect(tsqlProblems(text, check)).toEqual([]);
    });

    it('creates its tables without PostgreSQL-only syntax, and with `partition` bracketed', async () => {
      const created = await mssqlStatementsOf((q) => migration.up(q));
      expect(created).toHaveLength(createStatements);
      expect(created.map((text) => tsqlProblems(text, 'tokens-only'))).toEqual(created.map(() => []));
    });
  });
}
