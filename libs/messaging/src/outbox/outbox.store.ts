import { routingKeyFor, type Envelope } from '@app/contracts';
import { dialectOf, hash32, lockForTransaction, nowSql, param, params, type Dialect } from '@app/persistence';
import type { EntityManager } from 'typeorm';
import type { OutgoingMessage } from '../transport';

/** Where an outbox row goes: the saga bus (RabbitMQ) and the event stream (Kafka), tracked apart. */
export type OutboxChannel = 'bus' | 'stream';
const sentColumn: Record<OutboxChannel, string> = { bus: 'published_at', stream: 'streamed_at' };

/**
 * The outbox and inbox statements, each spelled for PostgreSQL (and PGlite) and SQL Server side
 * by side. Everything runs on the caller's transaction. Exported for the test that builds the
 * SQL Server statements.
 */
export const outboxSql = {
  insert(d: Dialect, rows: number): string {
    const values = Array.from({ length: rows }, (_, i) => {
      const p = (k: number) => param(d, i * 5 + k);
      return `(${p(0)}, ${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}${d === 'postgres' ? '::jsonb' : ''})`;
    });
    return `INSERT INTO outbox_messages (message_id, type, routing_key, msg_key, envelope) VALUES ${values.join(', ')}`;
  },

  /** Oldest unsent rows first, locked for this transaction. */
  claim(d: Dialect, channel: OutboxChannel): string {
    const col = sentColumn[channel];
    return d === 'mssql'
      ? `SELECT TOP (@0) id, routing_key, envelope FROM outbox_messages WITH (UPDLOCK, ROWLOCK, READPAST) WHERE ${col} IS NULL ORDER BY id`
      : `SELECT id, routing_key, envelope FROM outbox_messages WHERE ${col} IS NULL ORDER BY id LIMIT $1 FOR UPDATE`;
  },

  markSent(d: Dialect, channel: OutboxChannel, count: number): string {
    return `UPDATE outbox_messages SET ${sentColumn[channel]} = ${nowSql(d)} WHERE id IN (${params(d, count)})`;
  },

  deleteSent(d: Dialect, channels: readonly OutboxChannel[]): string {
    const sent = channels.map((c) => `${sentColumn[c]} IS NOT NULL AND ${sentColumn[c]} < ${param(d, 0)}`).join(' AND ');
    return `DELETE FROM outbox_messages WHERE ${sent}`;
  },

  /** Inserts the inbox record unless it exists; returns a row only when it inserted one. */
  recordInbox(d: Dialect): string {
    return d === 'mssql'
      ? `INSERT INTO inbox_messages (consumer, message_id, message_type) OUTPUT inserted.message_id
         SELECT @0, @1, @2 WHERE NOT EXISTS (SELECT 1 FROM inbox_messages WITH (UPDLOCK, HOLDLOCK) WHERE consumer = @0 AND message_id = @1)`
      : 'INSERT INTO inbox_messages (consumer, message_id, message_type) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING message_id';
  },

  /** PostgreSQL: many inbox records in one statement; returns the ones it inserted. */
  recordInboxMany(rows: number): string {
    const values = Array.from({ length: rows }, (_, i) => `($${i * 3 + 1}, $${i * 3 + 2}, $${i * 3 + 3})`);
    return `INSERT INTO inbox_messages (consumer, message_id, message_type) VALUES ${values.join(', ')} ON CONFLICT DO NOTHING RETURNING consumer, message_id`;
  },

  deleteInbox(d: Dialect): string {
    return `DELETE FROM inbox_messages WHERE received_at < ${param(d, 0)}`;
  },
};

/** Rows per multi-row statement: SQL Server takes at most 2,100 parameters. */
const ROWS_PER_STATEMENT = 400;

function chunks<T>(items: readonly T[], size = ROWS_PER_STATEMENT): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export async function appendToOutbox(manager: EntityManager, messages: readonly Envelope[]): Promise<void> {
  for (const chunk of chunks(messages)) {
    const values = chunk.flatMap((m) => [m.messageId, m.type, routingKeyFor(m.source, m.type), m.key, JSON.stringify(m)]);
    await manager.query(outboxSql.insert(dialectOf(manager), chunk.length), values);
  }
}

export interface ClaimedRow {
  id: number;
  message: OutgoingMessage;
}

/**
 * Claims the oldest rows not yet sent on `channel`. The transaction lock (advisory lock on
 * PostgreSQL, app lock on SQL Server) makes one relay instance of a service drain a channel at
 * a time, which keeps publish order equal to commit order (per order and overall); a second
 * instance finds the lock taken ('locked') and tries again shortly.
 */
export async function claimOutboxBatch(
  manager: EntityManager,
  relayName: string,
  limit: number,
  channel: OutboxChannel = 'bus',
): Promise<ClaimedRow[] | 'locked'> {
  if (!(await lockForTransaction(manager, `outbox-relay:${relayName}`, false))) return 'locked';
  const rows: Array<{ id: number | string; routing_key: string; envelope: Envelope | string }> = await manager.query(
    outboxSql.claim(dialectOf(manager), channel),
    [limit],
  );
  return rows.map((r) => ({
    id: Number(r.id),
    message: { routingKey: r.routing_key, envelope: typeof r.envelope === 'string' ? JSON.parse(r.envelope) : r.envelope },
  }));
}

export async function markPublished(manager: EntityManager, ids: readonly number[], channel: OutboxChannel = 'bus'): Promise<void> {
  if (ids.length === 0) return;
  await manager.query(outboxSql.markSent(dialectOf(manager), channel, ids.length), [...ids]);
}

/** Deletes rows sent on every active channel before `before`. */
export async function deletePublishedBefore(manager: EntityManager, before: Date, channels: readonly OutboxChannel[] = ['bus']): Promise<void> {
  await manager.query(outboxSql.deleteSent(dialectOf(manager), channels), [before]);
}

/** Records a message as handled by `consumer`; false means it was handled before. */
export async function recordInInbox(manager: EntityManager, consumer: string, messageId: string, messageType: string): Promise<boolean> {
  const rows: unknown[] = await manager.query(outboxSql.recordInbox(dialectOf(manager)), [consumer, messageId, messageType]);
  return rows.length === 1;
}

export interface InboxEntry {
  consumer: string;
  messageId: string;
  messageType: string;
}

/**
 * Records many messages as handled; answers, entry by entry, whether this call recorded it
 * (false: handled before, or an earlier entry of the same call is the same message).
 */
export async function recordManyInInbox(manager: EntityManager, entries: readonly InboxEntry[]): Promise<boolean[]> {
  if (dialectOf(manager) === 'mssql') {
    const recorded: boolean[] = [];
    for (const e of entries) recorded.push(await recordInInbox(manager, e.consumer, e.messageId, e.messageType));
    return recorded;
  }
  const key = (consumer: string, messageId: string) => JSON.stringify([consumer, messageId]);
  const fresh = new Set<string>();
  for (const chunk of chunks(entries)) {
    const rows: Array<{ consumer: string; message_id: string }> = await manager.query(
      outboxSql.recordInboxMany(chunk.length),
      chunk.flatMap((e) => [e.consumer, e.messageId, e.messageType]),
    );
    for (const r of rows) fresh.add(key(r.consumer, r.message_id));
  }
  // Each inserted row counts for the first entry that names it.
  return entries.map((e) => fresh.delete(key(e.consumer, e.messageId)));
}

export async function deleteInboxBefore(manager: EntityManager, before: Date): Promise<void> {
  await manager.query(outboxSql.deleteInbox(dialectOf(manager)), [before]);
}

export { hash32 };
