import { parseBlobName } from './blob-name';

export interface BlobRange {
  name: string;
  topic: string;
  partition: number;
  firstOffset: number;
  lastOffset: number;
  /** Offsets in the range that were poison (sent to the retry topic), not archived. */
  skipped: number[];
  /** Offsets actually present in the blob (from its lines), when read. */
  offsets?: number[];
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
 * Per partition: the archive must hold every offset from the log's start (or the first offset
 * still in the log) up to the committed offset, exactly once, except poison offsets recorded
 * as skipped. Offsets beyond the committed one may be archived already (a crash between upload
 * and commit); they count as long as they are not duplicated.
 */
export function verifyPartition(topic: string, partition: number, committed: number, low: number, ranges: BlobRange[]): PartitionReport {
  const seen = new Map<number, number>();
  let events = 0;
  for (const r of ranges) {
    const present = r.offsets ?? rangeOf(r.firstOffset, r.lastOffset).filter((o) => !r.skipped.includes(o));
    events += present.length;
    for (const o of [...present, ...r.skipped]) seen.set(o, (seen.get(o) ?? 0) + 1);
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

export function rangeFromBlob(name: string, metadata: Record<string, string>): BlobRange | null {
  const parsed = parseBlobName(name);
  if (!parsed) return null;
  const skipped = (metadata.skippedoffsets ?? '').split(',').filter(Boolean).map(Number);
  return { name, ...parsed, skipped };
}
