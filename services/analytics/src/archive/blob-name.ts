import { ARCHIVE_TOPICS } from './archive.topics';

/**
 * Archive blobs are named from topic, partition and offset range under the hour of the
 * batch's first event, e.g.
 *   events/2026/11/22/13/order-events-p2-000000001200-000000001399.ndjson.gz
 * Reading the same offsets again after a crash yields the same name (the first event's
 * producer timestamp does not change), so a blob claimed in the manifest and uploaded again by
 * another run lands on itself (ADR 0008).
 *
 * This file is the naming grammar in both directions. A name that comes from outside (an HTTP
 * path) is parsed, and accepted only if it is exactly the name this grammar would write for
 * what it parsed to: no `..`, no doubled slash, no impossible date, no topic the archive does
 * not hold, no unpadded offset. Nothing else ever reaches the blob store's URL builder.
 */
export const ARCHIVE_ROOT = 'events/';

const OFFSET_DIGITS = 12;
const pad = (n: number) => String(n).padStart(OFFSET_DIGITS, '0');
const two = (n: number) => String(n).padStart(2, '0');

export interface BlobHour {
  year: number;
  month: number;
  day: number;
  hour: number;
}

export interface ParsedBlobName {
  hour: BlobHour;
  topic: string;
  partition: number;
  firstOffset: number;
  lastOffset: number;
}

export function hourOf(timestampMs: number): BlobHour {
  const d = new Date(timestampMs);
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), hour: d.getUTCHours() };
}

function hourPath(h: BlobHour): string {
  return `${String(h.year).padStart(4, '0')}/${two(h.month)}/${two(h.day)}/${two(h.hour)}`;
}

export function datePath(timestampMs: number): string {
  return hourPath(hourOf(timestampMs));
}

/** Everything up to and including the first offset. */
function blobPrefix(topic: string, partition: number, firstOffset: number, firstTimestampMs: number): string {
  return `${ARCHIVE_ROOT}${datePath(firstTimestampMs)}/${topic}-p${partition}-${pad(firstOffset)}-`;
}

export function blobName(topic: string, partition: number, firstOffset: number, lastOffset: number, firstTimestampMs: number): string {
  return `${blobPrefix(topic, partition, firstOffset, firstTimestampMs)}${pad(lastOffset)}.ndjson.gz`;
}

/** The name this grammar writes for a parsed name. */
export function formatBlobName(p: ParsedBlobName): string {
  return `${ARCHIVE_ROOT}${hourPath(p.hour)}/${p.topic}-p${p.partition}-${pad(p.firstOffset)}-${pad(p.lastOffset)}.ndjson.gz`;
}

const digits = (s: string, length?: number): number | null => ((length === undefined ? /^\d+$/ : new RegExp(`^\\d{${length}}$`)).test(s) ? Number(s) : null);

/**
 * Parses an archive blob name of one of `topics` (the archive's own by default); null for
 * anything this grammar would not have written.
 */
export function parseBlobName(name: string, topics: readonly string[] = ARCHIVE_TOPICS): ParsedBlobName | null {
  if (name.length > 200) return null;
  const parts = name.split('/');
  if (parts.length !== 6 || `${parts[0]}/` !== ARCHIVE_ROOT) return null;
  const [year, month, day, hour] = [digits(parts[1], 4), digits(parts[2], 2), digits(parts[3], 2), digits(parts[4], 2)];
  if (year === null || month === null || day === null || hour === null) return null;
  const at = new Date(Date.UTC(year, month - 1, day, hour));
  if (at.getUTCFullYear() !== year || at.getUTCMonth() !== month - 1 || at.getUTCDate() !== day || at.getUTCHours() !== hour) return null;

  const file = parts[5];
  const suffix = '.ndjson.gz';
  if (!file.endsWith(suffix)) return null;
  const stem = file.slice(0, -suffix.length);
  // `<topic>-p<partition>-<first>-<last>`: the topic may itself hold dashes, the rest may not.
  const m = /^(.+)-p(\d+)-(\d+)-(\d+)$/.exec(stem);
  if (!m || !topics.includes(m[1])) return null;
  const partition = digits(m[2]);
  const firstOffset = digits(m[3], OFFSET_DIGITS);
  const lastOffset = digits(m[4], OFFSET_DIGITS);
  if (partition === null || firstOffset === null || lastOffset === null || lastOffset < firstOffset) return null;
  const parsed: ParsedBlobName = { hour: { year, month, day, hour }, topic: m[1], partition, firstOffset, lastOffset };
  // Only a name that round-trips is one of ours (this rejects `p01`, and anything else unusual).
  return formatBlobName(parsed) === name ? parsed : null;
}
