import type { QueryRunner } from 'typeorm';
import { parsesAsTsql, postgresTokensIn } from '../../../../test/support/tsql';
import { MessagingTables1763769600000 } from '../messaging-tables.migration';
import { OutboxDispatch1764547200000 } from '../outbox-dispatch.migration';
import { OutboxStreamChannel1763769600005 } from '../outbox-stream-channel.migration';
import { outboxSql } from './outbox.sql';

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
    ['insert two outbox rows', outboxSql.insert('mssql', 2).replace(/ OUTPUT inserted\.id, inserted\.message_id/, ''), 'parse'],
    ['delete rows every channel has', outboxSql.delete('mssql'), 'parse'],
    ['mark rows sent on the bus', outboxSql.markSent('mssql', 'bus'), 'parse'],
    ['mark rows sent on the stream', outboxSql.markSent('mssql', 'stream'), 'parse'],
    ['release a sweep lease', outboxSql.release('mssql', 'stream'), 'parse'],
    ['delete rows written down as sent everywhere', outboxSql.deleteSent('mssql', ['bus', 'stream']), 'parse'],
    ['take back inbox records', outboxSql.forgetInbox('mssql'), 'parse'],
    ['delete old inbox records', outboxSql.deleteInboxBefore('mssql'), 'parse'],
    ['read the backlog of both channels', outboxSql.backlog('mssql', ['bus', 'stream']), 'parse'],
    // node-sql-parser's T-SQL grammar has no OUTPUT clause, and no UPDATE of a CTE:
    ['claim unsent bus rows', outboxSql.claim('mssql', 'bus', ['stream']), 'tokens-only'],
    ['claim unstreamed rows', outboxSql.claim('mssql', 'stream', ['bus']), 'tokens-only'],
    ['record an inbox message once', outboxSql.recordInbox('mssql'), 'tokens-only'],
    ['delete those of some rows written down as sent everywhere', outboxSql.deleteSent('mssql', ['bus', 'stream'], true), 'tokens-only'],
  ];

  it.each(statements)('%s', (_, sql, check) => {
    expect(postgresTokensIn(sql)).toEqual([]);
    if (check === 'parse') expect(parsesAsTsql(sql)).toEqual({ ok: true });
  });

  it("claims a channel's oldest unsent rows with UPDLOCK and READPAST, under its own lease, and says what the other channel lacks", () => {
    const sql = outboxSql.claim('mssql', 'bus', ['stream']);
    expect(sql).toMatch(/SELECT TOP \(@0\) \* FROM outbox_messages WITH \(UPDLOCK, READPAST, ROWLOCK\)[\s\S]*ORDER BY id\)/);
    expect(sql).toMatch(/UPDATE c SET bus_claimed_until = DATEADD\(millisecond, @2, SYSDATETIMEOFFSET\(\)\)/);
    expect(sql).toMatch(
      /OUTPUT inserted\.id, inserted\.routing_key, inserted\.envelope, CASE WHEN inserted\.streamed_at IS NULL THEN 1 ELSE 0 END AS pending_stream$/,
    );
  });

  it('inserts an inbox record only when none exists, under a key-range lock', () => {
    expect(outboxSql.recordInbox('mssql')).toMatch(
      /OUTPUT inserted\.message_id[\s\S]*WHERE NOT EXISTS \(SELECT 1 FROM inbox_messages WITH \(UPDLOCK, HOLDLOCK\)/,
    );
  });

  it('on PostgreSQL, one statement per batch with array parameters, the inbox in message-id order', () => {
    expect(outboxSql.insert('postgres')).toMatch(
      /SELECT \* FROM unnest\(\$1::text\[\], \$2::text\[\], \$3::text\[\], \$4::text\[\], \$5::jsonb\[\]\) RETURNING id, message_id/,
    );
    expect(outboxSql.recordInbox('postgres')).toMatch(/ORDER BY m ON CONFLICT DO NOTHING RETURNING message_id/);
    expect(outboxSql.claim('postgres', 'stream', ['bus'])).toMatch(/ORDER BY id LIMIT \$1 FOR UPDATE SKIP LOCKED/);
  });

  it.each([
    ['MessagingTables', new MessagingTables1763769600000()],
    ['OutboxStreamChannel', new OutboxStreamChannel1763769600005()],
    ['OutboxDispatch', new OutboxDispatch1764547200000()],
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
