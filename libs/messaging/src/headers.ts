import type { FailureInfo } from './transport';

/** Headers every transport writes on a failed message, and resets when a dead letter is replayed. */
export function failureHeaders(f: FailureInfo): Record<string, unknown> {
  return {
    'x-attempts': f.attempts,
    'x-deliveries': f.deliveries,
    'x-first-failed-at': f.firstFailedAt,
    'x-last-failed-at': f.failedAt,
    'x-last-error': f.error.slice(0, 1000),
    ...(f.stack ? { 'x-last-error-stack': f.stack.slice(0, 4000) } : {}),
    'x-non-retryable': f.nonRetryable,
  };
}

/** Headers of a replayed dead letter: failure history dropped, attempts reset, the replay noted. */
export function replayHeaders(headers: Record<string, unknown>): Record<string, unknown> {
  const dropped = [
    'x-attempts',
    'x-deliveries',
    'x-first-failed-at',
    'x-last-failed-at',
    'x-non-retryable',
    'x-last-error',
    'x-last-error-stack',
    'x-delivery-count',
    'x-delivery-number',
    'x-death',
    'x-first-death-exchange',
    'x-first-death-queue',
    'x-first-death-reason',
    'x-dead-letter-id',
    'x-dead-lettered-at',
  ];
  const kept: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(headers)) if (!dropped.includes(k)) kept[k] = v;
  if (headers['x-dead-letter-id'] !== undefined) kept['x-replayed-dead-letter-id'] = headers['x-dead-letter-id'];
  kept['x-replay-count'] = (Number(headers['x-replay-count']) || 0) + 1;
  kept['x-replayed-at'] = new Date().toISOString();
  return kept;
}
