/** A seeded PRNG (mulberry32): the same seed gives the same orders and the same fault schedule. */
export type Random = () => number;

export function rng(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const pick = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)];

/** Uniform in [min, max). */
export const between = (random: Random, min: number, max: number): number => min + random() * (max - min);
