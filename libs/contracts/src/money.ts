import { z } from 'zod';

/** Money moves through the system as integer minor units (cents); HTTP shows major units. */
export const CURRENCY = 'USD';

export const minorUnits = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

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
  .max(1_000_000_000)
  .refine((v) => Math.abs(v * 100 - Math.round(v * 100)) < 1e-6, { message: 'at most two decimal places' });
