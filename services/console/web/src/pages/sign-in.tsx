import { useState } from 'preact/hooks';
import { ApiError, type SessionInfo, signIn } from '../api';

export function SignIn({ onSignedIn }: { onSignedIn: (s: SessionInfo) => void }) {
  const [token, setToken] = useState('');
  const [name, setName] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onSignedIn(await signIn(token, name.trim()));
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? 'That admin token is not valid.' : String((err as Error).message));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main id="main" class="sign-in">
      <h1 tabIndex={-1}>Order saga console</h1>
      <p>Sign in with the admin token (ADMIN_TOKEN; `npm start` keeps one in .data/admin-token).</p>
      <form onSubmit={(e) => void submit(e)}>
        <label>
          Admin token
          <input type="password" name="token" autoComplete="current-password" required value={token} onInput={(e) => setToken(e.currentTarget.value)} />
        </label>
        <label>
          Your name (for the audit log)
          <input type="text" name="name" maxLength={64} value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        <button type="submit" disabled={busy}>
          Sign in
        </button>
        {error && (
          <p role="alert" class="error">
            {error}
          </p>
        )}
      </form>
    </main>
  );
}
