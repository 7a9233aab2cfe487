import { backoffDelayMs, decideRecovery, NonRetryableError, type RecoverabilityOptions } from './recoverability';

const policy: RecoverabilityOptions = { immediateRetries: 2, delayedRetries: 3, baseDelayMs: 1000, maxDelayMs: 3000, jitter: 0.2 };

describe('recoverability policy', () => {
  it('doubles the delay per retry and caps it', () => {
    const mid = () => 0.5; // no jitter at the middle of the range
    expect([1, 2, 3, 4].map((n) => backoffDelayMs(n, policy, mid))).toEqual([1000, 2000, 3000, 3000]);
  });

  it('spreads delays by ±jitter', () => {
    expect(backoffDelayMs(1, policy, () => 0)).toBe(800);
    expect(backoffDelayMs(1, policy, () => 1)).toBe(1200);
  });

  it('retries later until the delayed retries are used up, then dead-letters', () => {
    const err = new Error('db down');
    expect(decideRecovery(err, 1, policy).kind).toBe('retry-later');
    expect(decideRecovery(err, 3, policy).kind).toBe('retry-later');
    expect(decideRecovery(err, 4, policy)).toEqual({ kind: 'dead-letter' });
  });

  it('dead-letters a non-retryable error at once', () => {
    expect(decideRecovery(new NonRetryableError('bad'), 1, policy)).toEqual({ kind: 'dead-letter' });
  });
});
