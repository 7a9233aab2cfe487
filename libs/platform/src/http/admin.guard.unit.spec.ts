import * as crypto from 'node:crypto';
import { tokensMatch } from './admin.guard';

jest.mock('node:crypto', () => ({ ...jest.requireActual('node:crypto'), timingSafeEqual: jest.fn(jest.requireActual('node:crypto').timingSafeEqual) }));

describe('admin token comparison', () => {
  const timingSafeEqual = crypto.timingSafeEqual as jest.MockedFunction<typeof crypto.timingSafeEqual>;
  beforeEach(() => timingSafeEqual.mockClear());

  it('matches the right token and refuses others', () => {
    expect(tokensMatch('s3cret-token-of-24-chars', 's3cret-token-of-24-chars')).toBe(true);
    expect(tokensMatch('s3cret-token-of-24-charS', 's3cret-token-of-24-chars')).toBe(false);
    expect(tokensMatch('', 's3cret-token-of-24-chars')).toBe(false);
  });

  it.each([
    ['shorter', 'x'],
    ['longer', 'x'.repeat(200)],
    ['as long', 'y'.repeat(24)],
  ])('compares in constant time even when the given token is %s (no early answer on length)', (_, given) => {
    expect(tokensMatch(given, 's3cret-token-of-24-chars')).toBe(false);
    expect(timingSafeEqual).toHaveBeenCalledTimes(1);
    const [a, b] = timingSafeEqual.mock.calls[0] as [Buffer, Buffer];
    expect(a.length).toBe(32);
    expect(b.length).toBe(32);
  });
});
