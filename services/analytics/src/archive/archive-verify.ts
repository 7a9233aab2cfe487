import { parseOffsets } from './archive-blob';
import { parseBlobName } from './blob-name';

export interface BlobRange {
  name: string;
  topic: string;
  partition: number;
  firstOffset: number;
  lastOffset: number;
  /** Offsets in the range that were poison (sent to the retry topic), not archived. */
  skipped: number[];
  /** Offsets in the range whose event (by messageId) the archive holds at another offset. */
  duplicateOffsets: number[];
  /** The blob's lines (offset and messageId), when read: what is stored, not what its metadata says. */
  lines?: Array<{ offset: number; messageId: string }>;
}

/** A messageId found on more than one line of the archive, and where. */
export interface DuplicateMessage {
  messageId: string;
  at: Array<{ blob: string; offset: number }>;
}

/** Offsets of one partition, both ends included. */
export interface OffsetWindow {
  from: number;
  to: number;
}

export interface PartitionReport {
  topic: string;
  partition: number;
  committed: number;
  low: number;
  /** The offsets checked, when the verification was asked for a range of them. */
  window?: OffsetWindow;
  blobs: number;
  events: number;
  gaps: Array<{ from: number; to: number }>;
  duplicates: number[];
  ok: boolean;
}

/**
 * Per partition: the archive must account for every offset from the log's start (or the first
 * offset still in the log) up to the committed offset exactly once: as a line, as a poison
 * offset recorded as skipped, or as an offset recorded as a duplicate of an event held at
 * another offset (the metadata is trusted for the last two). Offsets beyond the committed one may be archived already (a crash between upload
 * and commit); they count as long as they are not duplicated. Given a window, only its offsets
 * are checked (and counted): an operator verifying the stretch a fault touched need not read why
 * the rest is fine.
 */
export function verifyPartition(topic: string, partition: number, committed: number, low: number, ranges: BlobRange[], window?: OffsetWindow): PartitionReport {
  const inWindow = (o: number) => !window || (o >= window.from && o <= window.to);
  const seen = new Map<number, number>();
  let events = 0;
  for (const r of ranges) {
    const absent = new Set([...r.skipped, ...r.duplicateOffsets]);
    const present = (r.lines?.map((l) => l.offset) ?? rangeOf(r.firstOffset, r.lastOffset).filter((o) => !absent.has(o))).filter(inWindow);
    events += present.length;
    for (const o of [...present, ...absent].filter(inWindow)) seen.set(o, (seen.get(o) ?? 0) + 1);
  }
  const duplicates = [...seen.entries()]
    .filter(([, n]) => n > 1)
    .map(([o]) => o)
    .sort((a, b) => a - b);
  const gaps: Array<{ from: number; to: number }> = [];
  let gapStart: number | null = null;
  const end = window ? Math.min(committed, window.to + 1) : committed;
  for (let o = window ? Math.max(low, window.from) : low; o < end; o++) {
    if (!seen.has(o)) gapStart ??= o;
    else if (gapStart !== null) {
      gaps.push({ from: gapStart, to: o - 1 });
      gapStart = null;
    }
  }
  if (gapStart !== null) gaps.push({ from: gapStart, to: end - 1 });
  const blobs = window ? ranges.filter((r) => r.firstOffset <= window.to && r.lastOffset >= window.from).length : ranges.length;
  return {
    topic,
    partition,
    committed,
    low,
    ...(window ? { window } : {}),
    blobs,
    events,
    gaps,
    duplicates,
    ok: gaps.length === 0 && duplicates.length === 0,
  };
}

function rangeOf(first: number, last: number): number[] {
  return Array.from({ length: Math.max(0, last - first + 1) }, (_, i) => first + i);
}

/**
 * Exactly once per event: every messageId on one line of the archive. `lines` are the blobs'
 * lines in any order; the answer is sorted by messageId, each one's places by blob and offset.
 */
export function duplicateMessages(ranges: readonly BlobRange[]): DuplicateMessage[] {
  const at = new Map<string, Array<{ blob: string; offset: number }>>();
  for (const r of ranges) for (const l of r.lines ?? []) at.set(l.messageId, [...(at.get(l.messageId) ?? []), { blob: r.name, offset: l.offset }]);
  return [...at.entries()]
    .filter(([, places]) => places.length > 1)
    .map(([messageId, places]) => ({ messageId, at: places.sort((a, b) => a.blob.localeCompare(b.blob) || a.offset - b.offset) }))
    .sort((a, b) => a.messageId.localeCompare(b.messageId));
}

export function rangeFromBlob(name: string, metadata: Record<string, string>): BlobRange | null {
  const parsed = parseBlobName(name);
  if (!parsed) return null;
  return { name, ...parsed, skipped: parseOffsets(metadata.skippedoffsets), duplicateOffsets: parseOffsets(metadata.duplicateoffsets) };
}
