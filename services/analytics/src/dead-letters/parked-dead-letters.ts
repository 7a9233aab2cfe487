import type { DeadLetter, DeadLetterSource, EventStream, ListedDeadLetterRow, StreamRecord } from '@app/messaging';
import type { Dialect, SqlDatabase } from '@app/persistence';
import { parkedDeadLettersSql as sql } from './parked-dead-letters.sql';
import { deadLetterOf, parkedFrom, replayOf, rowIdOf, type ParkedRow } from './parked-record';

type Raw = Record<string, unknown>;

const REPLAY_BATCH = 200;

function rowOf(r: Raw): ParkedRow {
  const n = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  const iso = (v: unknown) => (v === null || v === undefined ? null : new Date(v as string | Date).toISOString());
  return {
    id: Number(r.id),
    topic: String(r.topic),
    partition: Number(r.partition),
    offset: Number(r.record_offset),
    timestamp: Number(r.record_timestamp),
    key: r.record_key === null || r.record_key === undefined ? null : String(r.record_key),
    headers: JSON.parse(String(r.headers)) as Record<string, string>,
    value: String(r.value),
    error: String(r.error),
    originalTopic: r.original_topic === null || r.original_topic === undefined ? null : String(r.original_topic),
    originalPartition: n(r.original_partition),
    originalOffset: n(r.original_offset),
    attempts: Number(r.attempts),
    failedAt: iso(r.failed_at),
    parkedAt: iso(r.parked_at)!,
  };
}

const idList = (d: Dialect, ids: number[]) => (d === 'postgres' ? ids : JSON.stringify(ids));

/**
 * Analytics' dead letters: the records of its Kafka dead-letter topic, parked in its database
 * by DeadLetterParking, listed, replayed and purged through the admin API every service has.
 * A replay produces the record to the retry topic first and deletes its row second: a crash in
 * between leaves the row, and a second replay produces it twice, which costs nothing downstream
 * (the archive holds a messageId once, the projection's inbox counts it once, and a record that
 * is poison still is dead-lettered and parked again, as a new row).
 */
export class ParkedDeadLetters implements DeadLetterSource {
  readonly dependency = 'the database';

  constructor(
    private readonly db: SqlDatabase,
    /** Where a replay goes (null: no stream, nothing can be replayed). */
    private readonly stream: EventStream | null,
    private readonly retryTopic: string,
    readonly queue = 'analytics',
  ) {}

  /** Parks records of the dead-letter topic, each once however often it is read; resolves once committed. */
  async park(records: readonly StreamRecord[]): Promise<void> {
    if (records.length === 0) return;
    await this.db.transaction(async (s) => {
      for (const record of records) {
        const p = parkedFrom(record);
        await s.query(
          sql.park(s.dialect),
          [
            p.topic,
            p.partition,
            p.offset,
            p.timestamp,
            p.key,
            JSON.stringify(p.headers),
            p.value,
            p.error,
            p.originalTopic,
            p.originalPartition,
            p.originalOffset,
            p.attempts,
            p.failedAt,
          ],
          { prepare: true },
        );
      }
    });
  }

  /** How many are parked now (the `stream` dead-letter gauge). */
  async count(): Promise<number> {
    const [row] = await this.db.query<Raw>(sql.summary(this.db.dialect));
    return Number(row?.n ?? 0);
  }

  async list(after: number, limit: number): Promise<ListedDeadLetterRow[]> {
    const rows = await this.db.query<Raw>(sql.page(this.db.dialect), [after, limit], { prepare: true });
    return rows.map(rowOf).map((row) => ({ deadLetter: deadLetterOf(row, this.queue), position: row.id }));
  }

  async find(id: string): Promise<DeadLetter | undefined> {
    const row = await this.row(id);
    return row && deadLetterOf(row, this.queue);
  }

  async replay(id?: string): Promise<number> {
    if (id !== undefined) {
      const row = await this.row(id);
      return row ? this.replayRows([row]) : 0;
    }
    // Up to the newest row now: what a replay parks again (poison still) is left for the next one.
    const [summary] = await this.db.query<Raw>(sql.summary(this.db.dialect));
    const newest = Number(summary?.newest ?? 0);
    let after = 0;
    let replayed = 0;
    for (;;) {
      const rows = (await this.db.query<Raw>(sql.between(this.db.dialect), [after, newest, REPLAY_BATCH], { prepare: true })).map(rowOf);
      if (rows.length === 0) return replayed;
      replayed += await this.replayRows(rows);
      after = rows[rows.length - 1].id;
    }
  }

  async purge(id?: string): Promise<number> {
    if (id === undefined) {
      const [row] = await this.db.query<Raw>(sql.deleteAll(this.db.dialect));
      return Number(row?.n ?? 0);
    }
    const rowId = rowIdOf(id);
    return rowId === null ? 0 : this.deleteRows([rowId]);
  }

  private async row(id: string): Promise<ParkedRow | undefined> {
    const rowId = rowIdOf(id);
    if (rowId === null) return undefined;
    const [row] = await this.db.query<Raw>(sql.one(this.db.dialect), [rowId], { prepare: true });
    return row && rowOf(row);
  }

  /** Produce first, delete second (see the class comment); answers how many rows this call deleted. */
  private async replayRows(rows: ParkedRow[]): Promise<number> {
    if (!this.stream) throw new Error('no event stream to replay to');
    const now = new Date();
    await this.stream.produce(
      this.retryTopic,
      rows.map((row) => replayOf(row, now)),
    );
    return this.deleteRows(rows.map((r) => r.id));
  }

  private async deleteRows(ids: number[]): Promise<number> {
    return (await this.db.query<Raw>(sql.deleteIds(this.db.dialect), [idList(this.db.dialect, ids)], { prepare: true })).length;
  }
}
