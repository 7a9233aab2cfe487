import { z } from 'zod';

/** Money moves through the system as integer minor units (cents); HTTP shows major units. */
export const CURRENCY = 'USD';

export const minorUnits = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

/**
 * The largest amount anything in the saga carries, in minor units: what an account can hold at
 * most (1,000,000,000.00 in major units, the bound of every amount accepted over HTTP). An
 * order above it is refused at the door, so no accepted order can fail a contract later, and
 * a balance plus a refund stays far below Number.MAX_SAFE_INTEGER.
 */
export const MAX_AMOUNT_MINOR = 100_000_000_000;
export const amountMinor = minorUnits.max(MAX_AMOUNT_MINOR);

export function toMinor(major: number): number {
  return Math.round(major * 100);
}

export function toMajor(minor: number): number {
  return Math.round(minor) / 100;
}

/** A decimal amount in major units with at most two decimals, as accepted over HTTP. */
export const majorAmount = z
  .number()
  .finite()
  .nonnegative()
  .max(MAX_AMOUNT_MINOR / 100)
  .refine((v) => Math.abs(v * 100 - Math.round(v * 100)) < 1e-6, { message: 'at most two decimal places' });
