import { useEffect, useState } from 'preact/hooks';
import { currentSession, type SessionInfo, signOut, whenSignedOut } from './api';
import { ArchivePage } from './pages/archive';
import { AuditPage } from './pages/audit';
import { FailedMessagesPage } from './pages/failed-messages';
import { OrderPage } from './pages/order';
import { OrdersPage } from './pages/orders';
import { OverviewPage } from './pages/overview';
import { SignIn } from './pages/sign-in';

/** Routes live in the fragment (#/orders/<id>), so the server serves one page for all of them. */
function useRoute(): string {
  const [hash, setHash] = useState(location.hash.slice(1) || '/overview');
  useEffect(() => {
    const onChange = () => setHash(location.hash.slice(1) || '/overview');
    addEventListener('hashchange', onChange);
    return () => removeEventListener('hashchange', onChange);
  }, []);
  return hash;
}

const NAV = [
  ['/overview', 'Overview'],
  ['/orders', 'Orders'],
  ['/failed', 'Failed messages'],
  ['/archive', 'Archive'],
  ['/audit', 'Audit log'],
] as const;

export function App() {
  const [session, setSession] = useState<SessionInfo | null | undefined>(undefined);
  const route = useRoute();
  useEffect(() => {
    whenSignedOut(() => setSession(null));
    void currentSession().then(setSession);
  }, []);
  useEffect(() => {
    // A new page gets the focus on its heading, so keyboard and screen-reader users start there.
    document.querySelector<HTMLElement>('main h1')?.focus();
  }, [route, session]);

  if (session === undefined) return <p class="loading">Loading…</p>;
  if (session === null) return <SignIn onSignedIn={setSession} />;
  const [path, ...rest] = route.split('?');
  const params = new URLSearchParams(rest.join('?'));
  const orderMatch = /^\/orders\/([0-9a-f-]{36})$/.exec(path ?? '');
  return (
    <>
      <a class="skip" href="#main" onClick={(e) => (e.preventDefault(), document.getElementById('main')?.focus())}>
        Skip to content
      </a>
      <header>
        <span class="brand">Order saga console</span>
        <nav aria-label="Main">
          <ul>
            {NAV.map(([href, label]) => (
              <li key={href}>
                <a href={`#${href}`} aria-current={path === href || (href === '/orders' && orderMatch) ? 'page' : undefined}>
                  {label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <span class="who">
          {session.actor}{' '}
          <button type="button" onClick={() => void signOut().then(() => setSession(null))}>
            Sign out
          </button>
        </span>
      </header>
      <main id="main" tabIndex={-1}>
        {orderMatch ? (
          <OrderPage id={orderMatch[1]!} />
        ) : path === '/orders' ? (
          <OrdersPage params={params} />
        ) : path === '/failed' ? (
          <FailedMessagesPage />
        ) : path === '/archive' ? (
          <ArchivePage />
        ) : path === '/audit' ? (
          <AuditPage />
        ) : (
          <OverviewPage />
        )}
      </main>
    </>
  );
}
