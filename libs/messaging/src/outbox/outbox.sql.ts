import { routingKeyFor, type Envelope } from '@app/contracts';
import type { Dialect, SqlSession } from '@app/persistence';

/** Where an outbox row goes: the saga bus (RabbitMQ) and the event stream (Kafka), tracked apart. */
export type OutboxChannel = 'bus' | 'stream';
export const sentColumn: Record<OutboxChannel, string> = { bus: 'published_at', stream: 'streamed_at' };

/** An envelope as the outbox holds it, serialized once: the same text is stored and published. */
export interface OutboxRow {
  id: number;
  routingKey: string;
  envelope: Envelope;
  body: string;
}

/** A row the sweeper claimed for one channel, and the other channels that still lack it. */
export interface ClaimedRow extends OutboxRow {
  pendingElsewhere: OutboxChannel[];
}

/**
 * The outbox and inbox statements, set-based (one statement for a whole batch), each spelled
 * for PostgreSQL (and PGlite) and SQL Server side by side. Arrays travel as array parameters
 * (`unnest`, `= ANY`) on PostgreSQL, so every statement has one text and is prepared once; as a
 * JSON array (`OPENJSON`) on SQL Server. Exported for the test that checks the SQL Server ones.
 */
export const outboxSql = {
  insert(d: Dialect, rows = 1): string {
    if (d === 'postgres') {
      return `INSERT INTO outbox_messages (message_id, type, routing_key, msg_key, envelope)
        SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::jsonb[]) RETURNING id, message_id`;
    }
    const values = Array.from({ length: rows }, (_, i) => `(@${i * 5}, @${i * 5 + 1}, @${i * 5 + 2}, @${i * 5 + 3}, @${i * 5 + 4})`);
    return `INSERT INTO outbox_messages (message_id, type, routing_key, msg_key, envelope) OUTPUT inserted.id, inserted.message_id VALUES ${values.join(', ')}`;
  },

  delete(d: Dialect): string {
    return d === 'postgres'
      ? 'DELETE FROM outbox_messages WHERE id = ANY($1::bigint[])'
      : 'DELETE FROM outbox_messages WHERE id IN (SELECT CAST(value AS bigint) FROM OPENJSON(@0))';
  },

  markSent(d: Dialect, channel: OutboxChannel): string {
    return d === 'postgres'
      ? `UPDATE outbox_messages SET ${sentColumn[channel]} = now() WHERE id = ANY($1::bigint[])`
      : `UPDATE outbox_messages SET ${sentColumn[channel]} = SYSDATETIMEOFFSET() WHERE id IN (SELECT CAST(value AS bigint) FROM OPENJSON(@0))`;
  },

  /**
   * Claims for one channel (a lease, not a lock: no transaction stays open while the broker is
   * asked) the oldest rows it has not sent, older than $2 ms, that no other instance's sweep of
   * this channel holds. Answers whether each other channel still lacks the row. Parameters:
   * limit, age ms, lease ms.
   */
  claim(d: Dialect, channel: OutboxChannel, others: readonly OutboxChannel[]): string {
    const lease = `${channel}_claimed_until`;
    if (d === 'postgres') {
      const pending = others.map((c) => `, o.${sentColumn[c]} IS NULL AS pending_${c}`).join('');
      return `UPDATE outbox_messages o SET ${lease} = now() + make_interval(secs => $3::float8 / 1000)
        FROM (SELECT id FROM outbox_messages
               WHERE ${sentColumn[channel]} IS NULL AND created_at < now() - make_interval(secs => $2::float8 / 1000)
                 AND (${lease} IS NULL OR ${lease} < now())
               ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED) c
        WHERE o.id = c.id
        RETURNING o.id, o.routing_key, o.envelope::text AS envelope${pending}`;
    }
    const pending = others.map((c) => `, CASE WHEN inserted.${sentColumn[c]} IS NULL THEN 1 ELSE 0 END AS pending_${c}`).join('');
    return `WITH c AS (SELECT TOP (@0) * FROM outbox_messages WITH (UPDLOCK, READPAST, ROWLOCK)
               WHERE ${sentColumn[channel]} IS NULL AND created_at < DATEADD(millisecond, -@1, SYSDATETIMEOFFSET())
                 AND (${lease} IS NULL OR ${lease} < SYSDATETIMEOFFSET())
               ORDER BY id)
      UPDATE c SET ${lease} = DATEADD(millisecond, @2, SYSDATETIMEOFFSET())
      OUTPUT inserted.id, inserted.routing_key, inserted.envelope${pending}`;
  },

  /**
   * The oldest row below $1 that this channel has not sent and nobody holds a lease on, of the
   * claim's age ($2 ms), read without locking: a row the claim skipped because another
   * statement had it locked (most often the other channel's claim of the same rows). Such a
   * row means the claim is not the channel's oldest backlog, and sending it would overtake
   * that row. Parameters: below id, age ms.
   */
  skippedBelow(d: Dialect, channel: OutboxChannel): string {
    const lease = `${channel}_claimed_until`;
    return d === 'postgres'
      ? `SELECT min(id) AS id FROM outbox_messages
          WHERE ${sentColumn[channel]} IS NULL AND id < $1 AND created_at < now() - make_interval(secs => $2::float8 / 1000)
            AND (${lease} IS NULL OR ${lease} < now())`
      : `SELECT MIN(id) AS id FROM outbox_messages
          WHERE ${sentColumn[channel]} IS NULL AND id < @0 AND created_at < DATEADD(millisecond, -@1, SYSDATETIMEOFFSET())
            AND (${lease} IS NULL OR ${lease} < SYSDATETIMEOFFSET())`;
  },

  release(d: Dialect, channel: OutboxChannel): string {
    return d === 'postgres'
      ? `UPDATE outbox_messages SET ${channel}_claimed_until = NULL WHERE id = ANY($1::bigint[])`
      : `UPDATE outbox_messages SET ${channel}_claimed_until = NULL WHERE id IN (SELECT CAST(value AS bigint) FROM OPENJSON(@0))`;
  },

  /**
   * Rows every channel has sent (written down one channel at a time), among the given ids
   * ($1) when `among` (answering the ids it deleted), else all of them.
   */
  deleteSent(d: Dialect, channels: readonly OutboxChannel[], among = false): string {
    const sent = channels.map((c) => `${sentColumn[c]} IS NOT NULL`).join(' AND ');
    if (!among) return `DELETE FROM outbox_messages WHERE ${sent}`;
    return d === 'postgres'
      ? `DELETE FROM outbox_messages WHERE id = ANY($1::bigint[]) AND ${sent} RETURNING id`
      : `DELETE FROM outbox_messages OUTPUT deleted.id WHERE id IN (SELECT CAST(value AS bigint) FROM OPENJSON(@0)) AND ${sent}`;
  },

  /**
   * Per channel, the rows it has not sent and the age in seconds of the oldest (null when none),
   * computed by the database's own clock. One pass over a table that holds only unsent rows.
   */
  backlog(d: Dialect, channels: readonly OutboxChannel[]): string {
    if (d === 'postgres') {
      const columns = channels.map((c) => {
        const unsent = `FILTER (WHERE ${sentColumn[c]} IS NULL)`;
        return `count(*) ${unsent} AS pending_${c}, EXTRACT(EPOCH FROM now() - min(created_at) ${unsent})::float8 AS age_${c}`;
      });
      return `SELECT ${columns.join(', ')} FROM outbox_messages`;
    }
    const columns = channels.map((c) => {
      const unsent = `WHEN ${sentColumn[c]} IS NULL`;
      return `SUM(CASE ${unsent} THEN 1 ELSE 0 END) AS pending_${c}, DATEDIFF_BIG(millisecond, MIN(CASE ${unsent} THEN created_at END), SYSDATETIMEOFFSET()) / 1000.0 AS age_${c}`;
    });
    return `SELECT ${columns.join(', ')} FROM outbox_messages`;
  },

  /** Inserts the inbox records that do not exist; answers the message ids it inserted. */
  recordInbox(d: Dialect): string {
    return d === 'postgres'
      ? `INSERT INTO inbox_messages (consumer, message_id, message_type)
           SELECT $1, m, t FROM unnest($2::text[], $3::text[]) AS x(m, t) ORDER BY m ON CONFLICT DO NOTHING RETURNING message_id`
      : `INSERT INTO inbox_messages (consumer, message_id, message_type) OUTPUT inserted.message_id
         SELECT @0, @1, @2 WHERE NOT EXISTS (SELECT 1 FROM inbox_messages WITH (UPDLOCK, HOLDLOCK) WHERE consumer = @0 AND message_id = @1)`;
  },

  forgetInbox(d: Dialect): string {
    return d === 'postgres'
      ? 'DELETE FROM inbox_messages WHERE consumer = $1 AND message_id = ANY($2::text[])'
      : 'DELETE FROM inbox_messages WHERE consumer = @0 AND message_id IN (SELECT value FROM OPENJSON(@1))';
  },

  deleteInboxBefore(d: Dialect): string {
    return d === 'postgres' ? 'DELETE FROM inbox_messages WHERE received_at < $1' : 'DELETE FROM inbox_messages WHERE received_at < @0';
  },
};

/** Rows per multi-row statement on SQL Server, which takes at most 2,100 parameters. */
const ROWS_PER_STATEMENT = 400;

function chunks<T>(items: readonly T[], size = ROWS_PER_STATEMENT): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

const ids = (d: Dialect, list: readonly number[]) => (d === 'postgres' ? [list] : [JSON.stringify(list)]);

/** Writes the envelopes to the outbox (one statement) and answers them as rows, each serialized once. */
export async function appendToOutbox(s: SqlSession, messages: readonly Envelope[]): Promise<OutboxRow[]> {
  if (messages.length === 0) return [];
  const prepared = messages.map((envelope) => ({ envelope, body: JSON.stringify(envelope), routingKey: routingKeyFor(envelope.source, envelope.type) }));
  const idOf = new Map<string, number>();
  if (s.dialect === 'postgres') {
    const rows = await s.query<{ id: string | number; message_id: string }>(
      outboxSql.insert('postgres'),
      [
        prepared.map((p) => p.envelope.messageId),
        prepared.map((p) => p.envelope.type),
        prepared.map((p) => p.routingKey),
        prepared.map((p) => p.envelope.key),
        prepared.map((p) => p.body),
      ],
      { prepare: true },
    );
    for (const r of rows) idOf.set(r.message_id, Number(r.id));
  } else {
    for (const chunk of chunks(prepared)) {
      const rows = await s.query<{ id: string | number; message_id: string }>(
        outboxSql.insert('mssql', chunk.length),
        chunk.flatMap((p) => [p.envelope.messageId, p.envelope.type, p.routingKey, p.envelope.key, p.body]),
      );
      for (const r of rows) idOf.set(r.message_id, Number(r.id));
    }
  }
  return prepared.map((p) => ({ id: idOf.get(p.envelope.messageId)!, routingKey: p.routingKey, envelope: p.envelope, body: p.body }));
}

export async function deleteOutboxRows(s: SqlSession, list: readonly number[]): Promise<void> {
  if (list.length) await s.query(outboxSql.delete(s.dialect), ids(s.dialect, list), { prepare: true });
}

export async function releaseOutboxClaims(s: SqlSession, channel: OutboxChannel, list: readonly number[]): Promise<void> {
  if (list.length) await s.query(outboxSql.release(s.dialect, channel), ids(s.dialect, list), { prepare: true });
}

export async function deleteFullySent(s: SqlSession, channels: readonly OutboxChannel[]): Promise<void> {
  await s.query(outboxSql.deleteSent(s.dialect, channels));
}

/** Deletes those of `list` that every channel has now written down as sent; answers how many. */
export async function deleteSentAmong(s: SqlSession, channels: readonly OutboxChannel[], list: readonly number[]): Promise<number> {
  if (list.length === 0) return 0;
  return (await s.query(outboxSql.deleteSent(s.dialect, channels, true), ids(s.dialect, list), { prepare: true })).length;
}

export async function markOutboxSent(s: SqlSession, channel: OutboxChannel, list: readonly number[]): Promise<void> {
  if (list.length) await s.query(outboxSql.markSent(s.dialect, channel), ids(s.dialect, list), { prepare: true });
}

/** See outboxSql.skippedBelow: the id of an older row the claim skipped, or null. */
export async function skippedBelow(s: SqlSession, channel: OutboxChannel, belowId: number, olderThanMs: number): Promise<number | null> {
  const [row] = await s.query<{ id: string | number | null }>(outboxSql.skippedBelow(s.dialect, channel), [belowId, olderThanMs], { prepare: true });
  return row?.id === null || row?.id === undefined ? null : Number(row.id);
}

/** Claims rows `channel` has not sent; each says which of `others` still lack it. */
export async function claimOutboxRows(
  s: SqlSession,
  channel: OutboxChannel,
  others: readonly OutboxChannel[],
  limit: number,
  olderThanMs: number,
  leaseMs: number,
): Promise<ClaimedRow[]> {
  const rows = await s.query<{ id: string | number; routing_key: string; envelope: string | Envelope } & Record<string, unknown>>(
    outboxSql.claim(s.dialect, channel, others),
    [limit, olderThanMs, leaseMs],
    { prepare: true },
  );
  const yes = (v: unknown) => v === true || v === 1 || v === '1' || v === 't';
  return rows
    .map((r) => {
      const body = typeof r.envelope === 'string' ? r.envelope : JSON.stringify(r.envelope);
      return {
        id: Number(r.id),
        routingKey: r.routing_key,
        envelope: JSON.parse(body) as Envelope,
        body,
        pendingElsewhere: others.filter((c) => yes(r[`pending_${c}`])),
      };
    })
    .sort((a, b) => a.id - b.id);
}

/** Rows each channel has not sent, and the age of the oldest, in seconds (0 when none). */
export async function outboxBacklog(
  s: SqlSession,
  channels: readonly OutboxChannel[],
): Promise<Partial<Record<OutboxChannel, { pending: number; oldestAgeSeconds: number }>>> {
  const [row] = await s.query<Record<string, unknown>>(outboxSql.backlog(s.dialect, channels), [], { prepare: true });
  return Object.fromEntries(
    channels.map((c) => [c, { pending: Number(row?.[`pending_${c}`] ?? 0), oldestAgeSeconds: Math.max(0, Number(row?.[`age_${c}`] ?? 0)) }]),
  );
}

export interface InboxEntry {
  messageId: string;
  messageType: string;
}

/**
 * Records messages as handled by `consumer`; answers, entry by entry, whether this call
 * recorded it (false: handled before, or an earlier entry of the same call is the same
 * message). On PostgreSQL one statement, inserting in message-id order, so two instances
 * recording overlapping batches wait for each other in one order and cannot deadlock.
 */
export async function recordInInbox(s: SqlSession, consumer: string, entries: readonly InboxEntry[]): Promise<boolean[]> {
  if (entries.length === 0) return [];
  if (s.dialect === 'mssql') {
    const recorded: boolean[] = [];
    const seen = new Set<string>();
    for (const e of entries) {
      if (seen.has(e.messageId)) {
        recorded.push(false);
        continue;
      }
      seen.add(e.messageId);
      recorded.push((await s.query(outboxSql.recordInbox('mssql'), [consumer, e.messageId, e.messageType])).length === 1);
    }
    return recorded;
  }
  const unique = new Map<string, string>();
  for (const e of entries) if (!unique.has(e.messageId)) unique.set(e.messageId, e.messageType);
  const rows = await s.query<{ message_id: string }>(outboxSql.recordInbox('postgres'), [consumer, [...unique.keys()], [...unique.values()]], {
    prepare: true,
  });
  const fresh = new Set(rows.map((r) => r.message_id));
  // Each inserted record counts for the first entry that names it.
  return entries.map((e) => fresh.delete(e.messageId));
}

/** Takes inbox records back (messages whose work failed inside a batch that commits). */
export async function forgetInInbox(s: SqlSession, consumer: string, messageIds: readonly string[]): Promise<void> {
  if (messageIds.length === 0) return;
  await s.query(outboxSql.forgetInbox(s.dialect), [consumer, s.dialect === 'postgres' ? [...messageIds] : JSON.stringify(messageIds)], { prepare: true });
}

export async function deleteInboxBefore(s: SqlSession, before: Date): Promise<void> {
  await s.query(outboxSql.deleteInboxBefore(s.dialect), [before]);
}
