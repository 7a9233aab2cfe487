import { gzipSync } from 'node:zlib';
import type { StreamRecord } from '@app/messaging';
import type { ParsedRecord } from './archive-record';

/** A record read for the archive, and what it turned out to be. */
export interface ArchiveItem {
  record: StreamRecord;
  parsed: ParsedRecord;
}

/** A blob ready to upload: its name, what it covers, its gzip NDJSON body and metadata. */
export interface BlobUpload {
  name: string;
  topic: string;
  partition: number;
  firstOffset: number;
  lastOffset: number;
  body: Buffer;
  metadata: Record<string, string>;
}

/**
 * The blob for the records of one claimed range (all of them, in offset order): a line for each
 * event at an offset of `lines` (where the manifest holds its messageId), none for the others.
 * Every offset of the range is still accounted for in the metadata, as `skippedoffsets` (poison,
 * sent to the retry topic) or `duplicateoffsets` (an event the archive already holds at another
 * offset). Deterministic: the same records and lines give the same bytes, so a blob rebuilt
 * after a crash overwrites its first upload with itself.
 */
export function buildBlob(name: string, items: readonly ArchiveItem[], lines: ReadonlySet<number>): BlobUpload {
  const first = items[0].record;
  const last = items[items.length - 1].record;
  const out: string[] = [];
  const skipped: number[] = [];
  const duplicates: number[] = [];
  let minTs = Number.MAX_SAFE_INTEGER;
  let maxTs = 0;
  for (const { record, parsed } of items) {
    if (parsed.kind !== 'event') skipped.push(record.offset);
    else if (!lines.has(record.offset)) duplicates.push(record.offset);
    else {
      minTs = Math.min(minTs, record.timestamp);
      maxTs = Math.max(maxTs, record.timestamp);
      const line = {
        topic: record.topic,
        partition: record.partition,
        offset: record.offset,
        timestamp: new Date(record.timestamp).toISOString(),
        event: parsed.envelope,
      };
      out.push(JSON.stringify(line));
    }
  }
  return {
    name,
    topic: first.topic,
    partition: first.partition,
    firstOffset: first.offset,
    lastOffset: last.offset,
    // mtime 0 and no file name (zlib's gzip writes neither), so the bytes depend on the lines alone.
    body: gzipSync(Buffer.from(out.length ? `${out.join('\n')}\n` : '')),
    metadata: {
      topic: first.topic,
      partition: String(first.partition),
      firstoffset: String(first.offset),
      lastoffset: String(last.offset),
      eventcount: String(out.length),
      skippedoffsets: formatOffsets(skipped),
      duplicateoffsets: formatOffsets(duplicates),
      mintimestamp: out.length ? new Date(minTs).toISOString() : '',
      maxtimestamp: out.length ? new Date(maxTs).toISOString() : '',
    },
  };
}

/**
 * Offsets in blob metadata: ascending, runs written `first-last` (`3,7-9`), because Azure
 * allows 8 KiB of metadata per blob and a batch the outbox streamed twice is a run of
 * hundreds of duplicate offsets. Plain lists (`3,7,8,9`, what earlier blobs hold) read the same.
 */
export function formatOffsets(offsets: readonly number[]): string {
  const runs: string[] = [];
  for (let i = 0; i < offsets.length;) {
    let j = i;
    while (j + 1 < offsets.length && offsets[j + 1] === offsets[j] + 1) j++;
    runs.push(j > i ? `${offsets[i]}-${offsets[j]}` : String(offsets[i]));
    i = j + 1;
  }
  return runs.join(',');
}

export function parseOffsets(value: string | undefined): number[] {
  return (value ?? '')
    .split(',')
    .filter(Boolean)
    .flatMap((run) => {
      const [from, to = from] = run.split('-').map(Number);
      return Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
    });
}
