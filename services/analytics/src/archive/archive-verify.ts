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

export interface PartitionReport {
  topic: string;
  partition: number;
  committed: number;
  low: number;
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
 * and commit); they count as long as they are not duplicated.
 */
export function verifyPartition(topic: string, partition: number, committed: number, low: number, ranges: BlobRange[]): PartitionReport {
  const seen = new Map<number, number>();
  let events = 0;
  for (const r of ranges) {
    const absent = new Set([...r.skipped, ...r.duplicateOffsets]);
    const present = r.lines?.map((l) => l.offset) ?? rangeOf(r.firstOffset, r.lastOffset).filter((o) => !absent.has(o));
    events += present.length;
    for (const o of [...present, ...absent]) seen.set(o, (seen.get(o) ?? 0) + 1);
  }
  const duplicates = [...seen.entries()]
    .filter(([, n]) => n > 1)
    .map(([o]) => o)
    .sort((a, b) => a - b);
  const gaps: Array<{ from: number; to: number }> = [];
  let gapStart: number | null = null;
  for (let o = low; o < committed; o++) {
    if (!seen.has(o)) gapStart ??= o;
    else if (gapStart !== null) {
      gaps.push({ from: gapStart, to: o - 1 });
      gapStart = null;
    }
  }
  if (gapStart !== null) gaps.push({ from: gapStart, to: committed - 1 });
  return { topic, partition, committed, low, blobs: ranges.length, events, gaps, duplicates, ok: gaps.length === 0 && duplicates.length === 0 };
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
