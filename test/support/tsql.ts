import { Parser } from 'node-sql-parser';

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
