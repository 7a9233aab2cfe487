import type { Dialect, SqlDatabase } from '@app/persistence';
import { archiveManifestSql as sql } from './archive-manifest.sql';
import { blobName } from './blob-name';

export type BlobState = 'pending' | 'stored';

/** A blob the manifest knows: the offsets it covers, and whether it is uploaded yet. */
export interface ManifestBlob {
  name: string;
  firstOffset: number;
  lastOffset: number;
  state: BlobState;
}

/** A record offered to a new blob; `messageId` null for a poison record (no event to hold). */
export interface ClaimRecord {
  offset: number;
  timestamp: number;
  messageId: string | null;
}

export interface Claim {
  /** The new blob, pending, and the offsets of its lines; null when every record was already claimed. */
  blob: { name: string; firstOffset: number; lastOffset: number; lines: Set<number> } | null;
  /** The blobs claimed earlier (by another owner or an earlier run) that hold some of the offered offsets. */
  taken: ManifestBlob[];
}

/**
 * What the archive holds, kept in Analytics' own database (ADR 0008). A blob is claimed before
 * it is uploaded and marked stored after, so which offsets a partition's blobs cover, and which
 * blob holds each event (by messageId), never depends on what a blob-store listing happens to
 * show or on where the group's Kafka offset stands. Two implementations: SQL (beside Kafka) and
 * memory (beside the in-process log, and in unit tests).
 */
export interface ArchiveManifest {
  /** The blobs of a partition that hold an offset at or after `from`, in offset order. */
  blobsFrom(topic: string, partition: number, from: number): Promise<ManifestBlob[]>;
  /**
   * Claims records (contiguous, in offset order) for one new blob, atomically per partition:
   * records at or below the partition's claimed-through offset belong to blobs claimed first
   * (answered as `taken`); of the rest, each event whose messageId no blob holds yet becomes a
   * line of the new blob, at its first offset.
   */
  claim(topic: string, partition: number, records: readonly ClaimRecord[]): Promise<Claim>;
  /** Marks a blob uploaded; answers where the partition's oldest other blob still pending starts (null: none). */
  markStored(name: string, topic: string, partition: number): Promise<number | null>;
  /** A claimed blob's state, and which of these events (read again from its offsets) are its lines. */
  contents(name: string, events: ReadonlyArray<{ offset: number; messageId: string }>): Promise<{ state: BlobState; lines: Set<number> }>;
}

export const ARCHIVE_MANIFEST = Symbol('ARCHIVE_MANIFEST');

/** The first offset of each messageId: a message twice in one blob is held at its first. */
function firstOffsets(records: readonly ClaimRecord[]): Map<string, number> {
  const events = new Map<string, number>();
  for (const r of records) if (r.messageId !== null && !events.has(r.messageId)) events.set(r.messageId, r.offset);
  return events;
}

type Raw = Record<string, unknown>;
const asBlob = (r: Raw): ManifestBlob => ({
  name: String(r.name),
  firstOffset: Number(r.first_offset),
  lastOffset: Number(r.last_offset),
  state: r.state as BlobState,
});
const idList = (d: Dialect, values: readonly string[]) => (d === 'postgres' ? [...values] : JSON.stringify(values));

/** The manifest in Analytics' database: PostgreSQL (run by the int tests) or SQL Server (not run here). */
export class SqlArchiveManifest implements ArchiveManifest {
  constructor(private readonly db: SqlDatabase) {}

  async blobsFrom(topic: string, partition: number, from: number): Promise<ManifestBlob[]> {
    const rows = await this.db.query<Raw>(sql.blobsBetween(this.db.dialect), [topic, partition, from, Number.MAX_SAFE_INTEGER], { prepare: true });
    return rows.map(asBlob);
  }

  claim(topic: string, partition: number, records: readonly ClaimRecord[]): Promise<Claim> {
    // One transaction holding the partition's row: two owners of a partition claim one after the other.
    return this.db.transaction(async (s) => {
      const [row] = await s.query<Raw>(sql.lockPartition(s.dialect), [topic, partition], { prepare: true });
      const through = Number(row.archived_through);
      const upTo = Math.min(through, records[records.length - 1].offset);
      const taken =
        records[0].offset <= upTo
          ? (await s.query<Raw>(sql.blobsBetween(s.dialect), [topic, partition, records[0].offset, upTo], { prepare: true })).map(asBlob)
          : [];
      const kept = records.filter((r) => r.offset > through);
      if (kept.length === 0) return { blob: null, taken };

      const first = kept[0];
      const last = kept[kept.length - 1];
      const name = blobName(topic, partition, first.offset, last.offset, first.timestamp);
      const events = firstOffsets(kept);
      const params =
        s.dialect === 'postgres'
          ? [name, topic, partition, first.offset, last.offset, [...events.keys()], [...events.values()]]
          : [
              name,
              topic,
              partition,
              first.offset,
              last.offset,
              JSON.stringify([...events].map(([message_id, record_offset]) => ({ message_id, record_offset }))),
            ];
      const fresh = await s.query<{ message_id: string }>(sql.claimBlob(s.dialect), params, { prepare: true });
      return { blob: { name, firstOffset: first.offset, lastOffset: last.offset, lines: new Set(fresh.map((f) => events.get(f.message_id)!)) }, taken };
    });
  }

  async markStored(name: string, topic: string, partition: number): Promise<number | null> {
    const [row] = await this.db.query<Raw>(sql.markStored(this.db.dialect), [name, topic, partition], { prepare: true });
    return row?.pending_from === null || row?.pending_from === undefined ? null : Number(row.pending_from);
  }

  async contents(name: string, events: ReadonlyArray<{ offset: number; messageId: string }>): Promise<{ state: BlobState; lines: Set<number> }> {
    const ids = idList(
      this.db.dialect,
      events.map((e) => e.messageId),
    );
    const rows = await this.db.query<Raw>(sql.contents(this.db.dialect), [name, ids], { prepare: true });
    if (rows.length === 0) throw new Error(`blob ${name} is not in the manifest`);
    return { state: rows[0].state as BlobState, lines: new Set(rows.filter((r) => r.record_offset !== null).map((r) => Number(r.record_offset))) };
  }
}

/**
 * The same rules in memory, for unit tests and for an in-process log (the embedded mode), whose
 * offsets start again at 0 on every start and must not meet a manifest that outlived them. Each
 * call runs to completion before another starts (no await inside), which is what the SQL
 * version's partition lock gives.
 */
export class InMemoryArchiveManifest implements ArchiveManifest {
  readonly blobs = new Map<string, ManifestBlob & { topic: string; partition: number }>();
  /** messageId → the blob and offset that hold it. */
  readonly events = new Map<string, { blob: string; offset: number }>();
  private readonly through = new Map<string, number>();

  async blobsFrom(topic: string, partition: number, from: number): Promise<ManifestBlob[]> {
    return this.between(topic, partition, from, Number.MAX_SAFE_INTEGER);
  }

  async claim(topic: string, partition: number, records: readonly ClaimRecord[]): Promise<Claim> {
    const k = `${topic}#${partition}`;
    const through = this.through.get(k) ?? -1;
    const upTo = Math.min(through, records[records.length - 1].offset);
    const taken = records[0].offset <= upTo ? this.between(topic, partition, records[0].offset, upTo) : [];
    const kept = records.filter((r) => r.offset > through);
    if (kept.length === 0) return { blob: null, taken };
    const first = kept[0];
    const last = kept[kept.length - 1];
    const name = blobName(topic, partition, first.offset, last.offset, first.timestamp);
    this.blobs.set(name, { name, topic, partition, firstOffset: first.offset, lastOffset: last.offset, state: 'pending' });
    this.through.set(k, last.offset);
    const lines = new Set<number>();
    for (const [messageId, offset] of firstOffsets(kept)) {
      if (this.events.has(messageId)) continue;
      this.events.set(messageId, { blob: name, offset });
      lines.add(offset);
    }
    return { blob: { name, firstOffset: first.offset, lastOffset: last.offset, lines }, taken };
  }

  async markStored(name: string, topic: string, partition: number): Promise<number | null> {
    const blob = this.blobs.get(name);
    if (blob) blob.state = 'stored';
    const pending = [...this.blobs.values()].filter((b) => b.topic === topic && b.partition === partition && b.state === 'pending');
    return pending.length ? Math.min(...pending.map((b) => b.firstOffset)) : null;
  }

  async contents(name: string, events: ReadonlyArray<{ offset: number; messageId: string }>): Promise<{ state: BlobState; lines: Set<number> }> {
    const blob = this.blobs.get(name);
    if (!blob) throw new Error(`blob ${name} is not in the manifest`);
    const lines = new Set<number>();
    for (const e of events) {
      const held = this.events.get(e.messageId);
      if (held?.blob === name) lines.add(held.offset);
    }
    return { state: blob.state, lines };
  }

  private between(topic: string, partition: number, from: number, to: number): ManifestBlob[] {
    return [...this.blobs.values()]
      .filter((b) => b.topic === topic && b.partition === partition && b.lastOffset >= from && b.firstOffset <= to)
      .sort((a, b) => a.firstOffset - b.firstOffset)
      .map(({ name, firstOffset, lastOffset, state }) => ({ name, firstOffset, lastOffset, state }));
  }
}
