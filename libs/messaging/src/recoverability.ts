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

/**
 * PostgreSQL SQLSTATEs that say the server, not the statement, is the problem: class 08
 * (connection exception) and 57P01-57P03 (admin or crash shutdown, "the database system is
 * starting up").
 */
const UNAVAILABLE_SQLSTATE = /^(08...|57P0[1-3])$/;
/** Socket errors of a server that is down, restarting or unreachable (pg, tedious, amqplib alike). */
const UNAVAILABLE_SOCKET = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ESOCKET', 'ECONNCLOSED']);

/**
 * Whether the handler failed because something it needs is down (its database restarting, a
 * connection cut), not because of the message. Such a failure says nothing about the message:
 * spending its retries on it would dead-letter good messages (and cancel their orders) during
 * a three-second database restart, which the chaos soak saw. Looks through `cause` and
 * TypeORM's `driverError`.
 */
export function isUnavailable(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e && typeof e === 'object' && depth < 5; depth++) {
    const { code, message } = e as { code?: unknown; message?: unknown };
    if (typeof code === 'string' && (UNAVAILABLE_SQLSTATE.test(code) || UNAVAILABLE_SOCKET.has(code))) return true;
    // node-postgres' own words for a socket that closed under a client (no code).
    if (typeof message === 'string' && /^Connection terminated/.test(message)) return true;
    e = (e as { driverError?: unknown }).driverError ?? (e as { cause?: unknown }).cause;
  }
  return false;
}

/** Delay before delayed retry number `retry` (1-based). */
export function backoffDelayMs(retry: number, options: RecoverabilityOptions, random: () => number = Math.random): number {
  return backoffMs(retry - 1, { baseMs: options.baseDelayMs, maxMs: options.maxDelayMs, jitter: options.jitter }, random);
}

export type RecoveryAction = { kind: 'retry-later'; delayMs: number } | { kind: 'dead-letter' };

/**
 * After the immediate retries of delivery number `deliveryCount` all failed. A dependency that
 * is down is waited for, with the same backoff (up to `maxDelayMs`), however long it takes:
 * the message is kept, never dead-lettered for it.
 */
export function decideRecovery(error: unknown, deliveryCount: number, options: RecoverabilityOptions, random: () => number = Math.random): RecoveryAction {
  if (isNonRetryable(error)) return { kind: 'dead-letter' };
  if (isUnavailable(error)) return { kind: 'retry-later', delayMs: backoffDelayMs(deliveryCount, options, random) };
  if (deliveryCount <= options.delayedRetries) return { kind: 'retry-later', delayMs: backoffDelayMs(deliveryCount, options, random) };
  return { kind: 'dead-letter' };
}
