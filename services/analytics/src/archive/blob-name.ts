/**
 * Archive blobs are named from topic, partition and offset range under the hour of the
 * batch's first event, e.g.
 *   events/2026/11/22/13/order-events-p2-000000001200-000000001399.ndjson.gz
 * Reading the same offsets again after a crash yields the same name (the first event's
 * producer timestamp does not change), which is how a re-run finds what it already wrote.
 */
export const ARCHIVE_ROOT = 'events/';

const pad = (n: number) => String(n).padStart(12, '0');
const two = (n: number) => String(n).padStart(2, '0');

export function datePath(timestampMs: number): string {
  const d = new Date(timestampMs);
  return `${d.getUTCFullYear()}/${two(d.getUTCMonth() + 1)}/${two(d.getUTCDate())}/${two(d.getUTCHours())}`;
}

/** Everything up to and including the first offset: the prefix a re-run lists to find its blob. */
export function blobPrefix(topic: string, partition: number, firstOffset: number, firstTimestampMs: number): string {
  return `${ARCHIVE_ROOT}${datePath(firstTimestampMs)}/${topic}-p${partition}-${pad(firstOffset)}-`;
}

export function blobName(topic: string, partition: number, firstOffset: number, lastOffset: number, firstTimestampMs: number): string {
  return `${blobPrefix(topic, partition, firstOffset, firstTimestampMs)}${pad(lastOffset)}.ndjson.gz`;
}

export interface ParsedBlobName {
  topic: string;
  partition: number;
  firstOffset: number;
  lastOffset: number;
}

const pattern = /^events\/\d{4}\/\d{2}\/\d{2}\/\d{2}\/(.+)-p(\d+)-(\d{12})-(\d{12})\.ndjson\.gz$/;

export function parseBlobName(name: string): ParsedBlobName | null {
  const m = pattern.exec(name);
  if (!m) return null;
  return { topic: m[1], partition: Number(m[2]), firstOffset: Number(m[3]), lastOffset: Number(m[4]) };
}
