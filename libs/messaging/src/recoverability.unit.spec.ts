import { backoffDelayMs, decideRecovery, isUnavailable, NonRetryableError, type RecoverabilityOptions } from './recoverability';

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

  it('never dead-letters for a dependency that is down: its database restarting, a connection cut', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    const startingUp = Object.assign(new Error('the database system is starting up'), { code: '57P03' });
    const terminated = new Error('Connection terminated unexpectedly');
    // TypeORM wraps the driver's error; ours may wrap it again as a cause.
    const wrapped = new Error('handler failed', { cause: Object.assign(new Error('Query failed'), { driverError: startingUp }) });
    for (const error of [refused, startingUp, terminated, wrapped]) {
      expect({ error: error.message, unavailable: isUnavailable(error) }).toEqual({ error: error.message, unavailable: true });
      expect(decideRecovery(error, 4, policy).kind).toBe('retry-later');
      expect(decideRecovery(error, 40, policy)).toEqual({ kind: 'retry-later', delayMs: expect.any(Number) });
    }
    // A statement the server refused is the message's (or the code's) problem, not an outage.
    const violation = Object.assign(new Error('duplicate key value violates unique constraint'), { code: '23505' });
    expect(isUnavailable(violation)).toBe(false);
    expect(decideRecovery(violation, 4, policy)).toEqual({ kind: 'dead-letter' });
  });

  it('dead-letters a non-retryable error at once', () => {
    expect(decideRecovery(new NonRetryableError('bad'), 1, policy)).toEqual({ kind: 'dead-letter' });
  });
});
