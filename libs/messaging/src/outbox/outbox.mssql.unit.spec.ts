import type { QueryRunner } from 'typeorm';
import { transactionLockSql } from '@app/persistence';
import { parsesAsTsql, postgresTokensIn } from '../../../../test/support/tsql';
import { MessagingTables1763769600000 } from '../messaging-tables.migration';
import { OutboxStreamChannel1763769600005 } from '../outbox-stream-channel.migration';
import { outboxSql } from './outbox.store';

/**
 * SQL Server cannot run here, so this checks the statements we would send it: built for the
 * mssql dialect, free of PostgreSQL-only syntax, and parsed by a T-SQL grammar where that
 * grammar knows the construct. Nothing here was executed on a SQL Server.
 */
function recordMigration(up: (q: QueryRunner) => Promise<void>): Promise<string[]> {
  const sql: string[] = [];
  const q = { connection: { options: { type: 'mssql' } }, query: async (s: string) => void sql.push(s) } as unknown as QueryRunner;
  return up(q).then(() => sql);
}

describe('outbox and inbox on SQL Server (statements built, not executed)', () => {
  const statements: Array<[string, string, 'parse' | 'tokens-only']> = [
    ['insert two outbox rows', outboxSql.insert('mssql', 2), 'parse'],
    ['claim unsent bus rows', outboxSql.claim('mssql', 'bus'), 'parse'],
    ['claim unstreamed rows', outboxSql.claim('mssql', 'stream'), 'parse'],
    ['mark three rows sent', outboxSql.markSent('mssql', 'bus', 3), 'parse'],
    ['delete rows sent on both channels', outboxSql.deleteSent('mssql', ['bus', 'stream']), 'parse'],
    ['delete old inbox records', outboxSql.deleteInbox('mssql'), 'parse'],
    // node-sql-parser's T-SQL grammar has no OUTPUT clause or DECLARE/EXEC:
    ['record an inbox message once', outboxSql.recordInbox('mssql'), 'tokens-only'],
    ['take the relay lock without waiting', transactionLockSql('mssql', 'outbox-relay:order', false).sql, 'tokens-only'],
  ];

  it.each(statements)('%s', (_, sql, check) => {
    expect(postgresTokensIn(sql)).toEqual([]);
    if (check === 'parse') expect(parsesAsTsql(sql)).toEqual({ ok: true });
  });

  it('claims with UPDLOCK and READPAST in id order, a batch at a time', () => {
    expect(outboxSql.claim('mssql', 'bus')).toMatch(/SELECT TOP \(@0\).*WITH \(UPDLOCK, ROWLOCK, READPAST\).*ORDER BY id/);
  });

  it('takes an app lock owned by the transaction, not waiting', () => {
    const { sql, params } = transactionLockSql('mssql', 'outbox-relay:order', false);
    expect(sql).toMatch(/sp_getapplock @Resource = @0, @LockMode = 'Exclusive', @LockOwner = 'Transaction', @LockTimeout = 0/);
    expect(params).toEqual(['outbox-relay:order']);
  });

  it('inserts an inbox record only when none exists, under a key-range lock', () => {
    expect(outboxSql.recordInbox('mssql')).toMatch(
      /OUTPUT inserted\.message_id[\s\S]*WHERE NOT EXISTS \(SELECT 1 FROM inbox_messages WITH \(UPDLOCK, HOLDLOCK\)/,
    );
  });

  it('keeps PostgreSQL statements as they were', () => {
    expect(outboxSql.claim('postgres', 'bus')).toBe(
      'SELECT id, routing_key, envelope FROM outbox_messages WHERE published_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE',
    );
    expect(outboxSql.recordInbox('postgres')).toMatch(/ON CONFLICT DO NOTHING RETURNING message_id/);
  });

  it.each([
    ['MessagingTables', new MessagingTables1763769600000()],
    ['OutboxStreamChannel', new OutboxStreamChannel1763769600005()],
  ])('migration %s has a SQL Server version, up and down', async (_, m) => {
    for (const direction of ['up', 'down'] as const) {
      const sql = await recordMigration((q) => m[direction](q));
      expect(sql.length).toBeGreaterThan(0);
      for (const s of sql) expect(postgresTokensIn(s)).toEqual([]);
    }
    const up = (await recordMigration((q) => m.up(q))).join('\n');
    if (m instanceof MessagingTables1763769600000) {
      expect(up).toMatch(/IDENTITY\(1,1\)/);
      expect(up).toMatch(/nvarchar\(max\)/);
      expect(up).toMatch(/datetimeoffset/);
    }
  });
});
