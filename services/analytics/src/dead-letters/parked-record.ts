import type { DeadLetter, ProducedRecord, StreamRecord } from '@app/messaging';

/** A record of Analytics' dead-letter topic as it is parked: the record whole, and the failure the archiver attached. */
export interface ParkedRecord {
  /** Where it was read: the dead-letter topic, and the record's place and producer timestamp in it. */
  topic: string;
  partition: number;
  offset: number;
  timestamp: number;
  key: string | null;
  headers: Record<string, string>;
  value: string;
  error: string;
  /** Where it was first read (the archiver's `x-original-*` headers); null if a header is missing. */
  originalTopic: string | null;
  originalPartition: number | null;
  originalOffset: number | null;
  attempts: number;
  /** When it was dead-lettered (`x-failed-at`); null if the header is missing or not a time. */
  failedAt: string | null;
}

/** A parked record as a row: its id, and when it was parked. */
export interface ParkedRow extends ParkedRecord {
  id: number;
  parkedAt: string;
}

/** The admin API's ids: `analytics:<row id>`. */
const ID = /^analytics:([1-9][0-9]{0,17})$/;

export const parkedId = (row: { id: number }) => `analytics:${row.id}`;

/** The row id an admin API id names, or null (an id of another service, or none at all). */
export function rowIdOf(id: string): number | null {
  const m = ID.exec(id);
  return m && Number.isSafeInteger(Number(m[1])) ? Number(m[1]) : null;
}

const int = (v: string | undefined): number | null => (v !== undefined && /^-?\d+$/.test(v) && Number.isSafeInteger(Number(v)) ? Number(v) : null);
const time = (v: string | undefined): string | null => (v && !Number.isNaN(Date.parse(v)) ? new Date(v).toISOString() : null);

/** What to park of a record read from the dead-letter topic (written by the archiver: see Archiver.route). */
export function parkedFrom(record: StreamRecord): ParkedRecord {
  const h = record.headers;
  return {
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
    timestamp: record.timestamp,
    key: record.key,
    headers: h,
    value: record.value,
    error: h['x-error'] ?? 'unknown (no x-error header)',
    originalTopic: h['x-original-topic'] ?? null,
    originalPartition: int(h['x-original-partition']),
    originalOffset: int(h['x-original-offset']),
    // A record dead-lettered before x-attempts existed was read twice: on its topic and on retry.
    attempts: int(h['x-attempts']) ?? 2,
    failedAt: time(h['x-failed-at']),
  };
}

/**
 * A parked record in the shape every service's admin API lists dead letters in. The routing key
 * is the topic it was first read from; the headers are the record's, plus where it was parked
 * from (`kafka-*`) and when (`x-parked-at`).
 */
export function deadLetterOf(row: ParkedRow, queue: string): DeadLetter {
  const failedAt = row.failedAt ?? row.parkedAt;
  return {
    id: parkedId(row),
    queue,
    routingKey: row.originalTopic ?? row.topic,
    body: row.value,
    headers: {
      ...row.headers,
      'kafka-topic': row.topic,
      'kafka-partition': row.partition,
      'kafka-offset': row.offset,
      'kafka-key': row.key,
      'x-parked-at': row.parkedAt,
    },
    failure: {
      error: row.error,
      ...(row.headers['x-error-stack'] ? { stack: row.headers['x-error-stack'] } : {}),
      attempts: row.attempts,
      deliveries: row.attempts,
      nonRetryable: false,
      firstFailedAt: time(row.headers['x-first-failed-at']) ?? failedAt,
      failedAt,
    },
    deadLetteredAt: failedAt,
  };
}

/**
 * A parked record as the archiver's retry topic takes it: due now, from the same origin, with
 * the attempts so far (read again, it is archived and projected if it reads now, and otherwise
 * dead-lettered again with one attempt more).
 */
export function replayOf(row: ParkedRow, now: Date): ProducedRecord {
  return {
    key: row.key,
    value: row.value,
    headers: {
      ...row.headers,
      'x-original-topic': row.originalTopic ?? row.topic,
      'x-original-partition': String(row.originalPartition ?? row.partition),
      'x-original-offset': String(row.originalOffset ?? row.offset),
      'x-attempts': String(row.attempts),
      'x-retry-at': String(now.getTime()),
      'x-replayed-at': now.toISOString(),
    },
  };
}
