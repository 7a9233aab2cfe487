import { clearedSessionCookie, cookieValue, sessionCookie, SessionStore } from './session.store';

const TOKEN = 'the-admin-token-of-this-test';

describe('console sessions', () => {
  it('opens one only for the admin token, with its own random id and CSRF token', () => {
    const store = new SessionStore(TOKEN, 60_000);
    expect(store.signIn('not-the-token', 'mallory')).toBeUndefined();
    const a = store.signIn(TOKEN, 'alice')!;
    const b = store.signIn(TOKEN, 'bob')!;
    expect(a.id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(new Set([a.id, b.id, a.csrfToken, b.csrfToken]).size).toBe(4);
    expect(store.find(a.id)?.actor).toBe('alice');
    expect(store.find('forged')).toBeUndefined();
  });

  it('ends a session after the idle time, and on sign-out', () => {
    let now = 0;
    const store = new SessionStore(TOKEN, 1000, () => now);
    const s = store.signIn(TOKEN, 'alice')!;
    now = 900;
    expect(store.find(s.id)).toBeDefined();
    now = 1800; // 900 ms after the last request: still in
    expect(store.find(s.id)).toBeDefined();
    now = 2801;
    expect(store.find(s.id)).toBeUndefined();
    const t = store.signIn(TOKEN, 'alice')!;
    store.signOut(t.id);
    expect(store.find(t.id)).toBeUndefined();
  });

  it('sets an HttpOnly, SameSite=Strict cookie for the whole site, and reads it back', () => {
    expect(sessionCookie('abc')).toBe('console_session=abc; HttpOnly; SameSite=Strict; Path=/');
    expect(clearedSessionCookie()).toContain('Max-Age=0');
    expect(cookieValue('a=1; console_session=abc; b=2', 'console_session')).toBe('abc');
    expect(cookieValue('xconsole_session=abc', 'console_session')).toBeUndefined();
    expect(cookieValue(undefined, 'console_session')).toBeUndefined();
  });
});
