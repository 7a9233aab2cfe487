import type { StreamRecord } from '@app/messaging';
import { deadLetterOf, parkedFrom, replayOf, rowIdOf, type ParkedRow } from './parked-record';

/** A record as the archiver writes it to the dead-letter topic (Archiver.route). */
const record = (headers: Record<string, string>): StreamRecord => ({
  topic: 'analytics.dlt',
  partition: 0,
  offset: 12,
  key: 'order-1',
  value: '{not json',
  timestamp: 1_700_000_000_000,
  headers,
});
const failure = {
  'message-type': 'OrderPlaced',
  'x-error': 'not valid JSON',
  'x-original-topic': 'order-events',
  'x-original-partition': '3',
  'x-original-offset': '1200',
  'x-attempts': '2',
  'x-first-failed-at': '2026-12-07T10:00:00.000Z',
  'x-failed-at': '2026-12-07T10:00:02.000Z',
};
const row = (headers: Record<string, string>): ParkedRow => ({ ...parkedFrom(record(headers)), id: 5, parkedAt: '2026-12-07T10:00:03.000Z' });

describe('a parked dead letter of Analytics', () => {
  it('keeps the record whole and reads the failure the archiver attached', () => {
    expect(parkedFrom(record(failure))).toEqual({
      topic: 'analytics.dlt',
      partition: 0,
      offset: 12,
      timestamp: 1_700_000_000_000,
      key: 'order-1',
      headers: failure,
      value: '{not json',
      error: 'not valid JSON',
      originalTopic: 'order-events',
      originalPartition: 3,
      originalOffset: 1200,
      attempts: 2,
      failedAt: '2026-12-07T10:00:02.000Z',
    });
  });

  it('reads a record dead-lettered before attempts were counted, or with unreadable headers', () => {
    expect(parkedFrom(record({ 'x-original-offset': 'twelve', 'x-failed-at': 'yesterday' }))).toMatchObject({
      error: 'unknown (no x-error header)',
      originalTopic: null,
      originalOffset: null,
      attempts: 2,
      failedAt: null,
    });
  });

  it('is listed in the shape every service lists dead letters in', () => {
    expect(deadLetterOf(row(failure), 'analytics')).toEqual({
      id: 'analytics:5',
      queue: 'analytics',
      routingKey: 'order-events',
      body: '{not json',
      headers: {
        ...failure,
        'kafka-topic': 'analytics.dlt',
        'kafka-partition': 0,
        'kafka-offset': 12,
        'kafka-key': 'order-1',
        'x-parked-at': '2026-12-07T10:00:03.000Z',
      },
      failure: {
        error: 'not valid JSON',
        attempts: 2,
        deliveries: 2,
        nonRetryable: false,
        firstFailedAt: '2026-12-07T10:00:00.000Z',
        failedAt: '2026-12-07T10:00:02.000Z',
      },
      deadLetteredAt: '2026-12-07T10:00:02.000Z',
    });
    expect(deadLetterOf(row({ ...failure, 'x-error-stack': 'Error: x\n    at up (/app/libs/contracts/src/x.js:1:1)' }), 'analytics').failure.stack).toMatch(
      /^Error: x/,
    );
    expect(deadLetterOf(row({}), 'analytics')).toMatchObject({ routingKey: 'analytics.dlt', deadLetteredAt: '2026-12-07T10:00:03.000Z' });
  });

  it('is replayed to the retry topic due now, from its first origin, with its attempts so far', () => {
    const now = new Date('2026-12-07T11:00:00.000Z');
    expect(replayOf(row(failure), now)).toEqual({
      key: 'order-1',
      value: '{not json',
      headers: { ...failure, 'x-attempts': '2', 'x-retry-at': String(now.getTime()), 'x-replayed-at': '2026-12-07T11:00:00.000Z' },
    });
    // Without its origin headers, it comes from where it was parked.
    expect(replayOf(row({}), now).headers).toMatchObject({ 'x-original-topic': 'analytics.dlt', 'x-original-partition': '0', 'x-original-offset': '12' });
  });

  it('has ids of its own: analytics:<row id>, nothing else', () => {
    expect(rowIdOf('analytics:5')).toBe(5);
    for (const id of ['analytics:0', 'analytics:05', 'analytics:', 'payment:5', 'analytics:5x', 'analytics:99999999999999999999'])
      expect(rowIdOf(id)).toBeNull();
  });
});
