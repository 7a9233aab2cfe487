import { backoffMs } from '@app/platform';

/**
 * One recoverability policy for every consumer: a few immediate retries in-process, then
 * delayed redeliveries with exponential backoff and jitter, then the dead-letter queue.
 * Errors marked non-retryable (bad message, broken business rule) go straight to the DLQ.
 */
export interface RecoverabilityOptions {
  immediateRetries: number;
  delayedRetries: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** 0..1: the delay is drawn uniformly from ±jitter around the nominal value. */
  jitter: number;
}

export const defaultRecoverability: RecoverabilityOptions = {
  immediateRetries: 2,
  delayedRetries: 3,
  baseDelayMs: 1000,
  maxDelayMs: 60_000,
  jitter: 0.2,
};

export class NonRetryableError extends Error {
  override readonly name = 'NonRetryableError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export function isNonRetryable(error: unknown): boolean {
  return error instanceof NonRetryableError;
}

/** Delay before delayed retry number `retry` (1-based). */
export function backoffDelayMs(retry: number, options: RecoverabilityOptions, random: () => number = Math.random): number {
  return backoffMs(retry - 1, { baseMs: options.baseDelayMs, maxMs: options.maxDelayMs, jitter: options.jitter }, random);
}

export type RecoveryAction = { kind: 'retry-later'; delayMs: number } | { kind: 'dead-letter' };

/** After the immediate retries of delivery number `deliveryCount` all failed. */
export function decideRecovery(error: unknown, deliveryCount: number, options: RecoverabilityOptions, random: () => number = Math.random): RecoveryAction {
  if (isNonRetryable(error)) return { kind: 'dead-letter' };
  if (deliveryCount <= options.delayedRetries) return { kind: 'retry-later', delayMs: backoffDelayMs(deliveryCount, options, random) };
  return { kind: 'dead-letter' };
}
