import { backoffMs } from './backoff';

describe('backoffMs', () => {
  it('doubles from the base and stops at the cap', () => {
    const b = { baseMs: 100, maxMs: 1000 };
    expect([0, 1, 2, 3, 4, 10, 1000].map((n) => backoffMs(n, b))).toEqual([100, 200, 400, 800, 1000, 1000, 1000]);
  });

  it('spreads by the jitter share around the nominal delay', () => {
    const b = { baseMs: 1000, maxMs: 60_000, jitter: 0.2 };
    expect(backoffMs(0, b, () => 0)).toBe(800);
    expect(backoffMs(0, b, () => 0.5)).toBe(1000);
    expect(backoffMs(0, b, () => 1)).toBe(1200);
  });

  it('treats a negative attempt as the first', () => {
    expect(backoffMs(-3, { baseMs: 50, maxMs: 500 })).toBe(50);
  });
});
