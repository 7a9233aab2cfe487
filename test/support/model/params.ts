import type fc from 'fast-check';

/**
 * How the property tests run: one fixed seed by default, so CI explores the same cases every
 * time, and a runs count small enough for `npm test`. FUZZ_SEED (shared with the HTTP fuzzer)
 * picks another seed; PROPERTY_RUNS multiplies every property's runs (`PROPERTY_RUNS=20` for a
 * long search); PROPERTY_PATH, with the seed of a failure, replays its shrunk counterexample.
 */
export const seed = Number(process.env.FUZZ_SEED ?? 20261201);
const factor = Number(process.env.PROPERTY_RUNS ?? 1);
const path = process.env.PROPERTY_PATH;

export function propertyParams<T>(runs: number): fc.Parameters<T> {
  return {
    seed,
    numRuns: Math.max(1, Math.round(runs * factor)),
    // The report carries the thrown error's message, which is where the delivery log is.
    includeErrorInReport: true,
    ...(path ? { path, endOnFailure: true } : {}),
  };
}
