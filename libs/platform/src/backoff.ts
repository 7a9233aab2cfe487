/**
 * Exponential backoff, the one formula every retry loop of the project uses (reconnects,
 * consumer restarts, delayed retries): `baseMs · 2^attempt`, capped at `maxMs`, spread by
 * ±`jitter` (a share of the delay) so that instances that failed together do not retry together.
 */
export interface Backoff {
  baseMs: number;
  maxMs: number;
  /** 0 (none) to 1; 0.2 spreads a 1 s delay over 0.8–1.2 s. */
  jitter?: number;
}

/** The delay before retry `attempt` (0 for the first retry). */
export function backoffMs(attempt: number, backoff: Backoff, random: () => number = Math.random): number {
  // 2^31 overflows nothing here, but a capped exponent keeps the arithmetic exact.
  const nominal = Math.min(backoff.maxMs, backoff.baseMs * 2 ** Math.min(Math.max(0, attempt), 30));
  const spread = nominal * (backoff.jitter ?? 0);
  return Math.max(0, Math.round(nominal - spread + random() * 2 * spread));
}
