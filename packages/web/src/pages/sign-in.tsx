import { useState } from 'preact/hooks';
import { messageOf, type Session, signInWithKey, signInWithPassword } from '../api.js';
import { ErrorNote } from '../components/error-note.js';

/** Sign in with a username and password (exchanged for an access token), or with an API key. */
export function SignIn(props: { onSignedIn: (s: Session) => void; notice?: string | null }) {
  const [mode, setMode] = useState<'password' | 'key'>('password');
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [apiKey, setApiKey] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      props.onSignedIn(mode === 'password' ? await signInWithPassword(username.trim(), password) : await signInWithKey(apiKey.trim()));
    } catch (err) {
      setError(messageOf(err));
      setBusy(false);
    }
  };

  return (
    <main class="sign-in" id="main">
      <form class="card sign-in-card" onSubmit={submit} aria-labelledby="sign-in-title">
        <h1 id="sign-in-title">Sign in to Hangar</h1>
        {props.notice && <p class="notice">{props.notice}</p>}
        <fieldset class="mode">
          <legend>Sign in with</legend>
          <label>
            <input type="radio" name="mode" value="password" checked={mode === 'password'} onChange={() => setMode('password')} /> Username
            and password
          </label>
          <label>
            <input type="radio" name="mode" value="key" checked={mode === 'key'} onChange={() => setMode('key')} /> API key
          </label>
        </fieldset>
        {mode === 'password' ? (
          <>
            <div class="field">
              <label for="username">Username</label>
              <input
                id="username"
                name="username"
                autocomplete="username"
                required
                value={username}
                onInput={(e) => setUsername(e.currentTarget.value)}
              />
            </div>
            <div class="field">
              <label for="password">Password</label>
              <input
                id="password"
                name="password"
                type="password"
                autocomplete="current-password"
                required
                value={password}
                onInput={(e) => setPassword(e.currentTarget.value)}
              />
            </div>
          </>
        ) : (
          <div class="field">
            <label for="api-key">API key</label>
            <input
              id="api-key"
              name="api-key"
              type="password"
              autocomplete="off"
              placeholder="hgr_…"
              required
              value={apiKey}
              onInput={(e) => setApiKey(e.currentTarget.value)}
            />
          </div>
        )}
        <ErrorNote error={error} id="sign-in-error" />
        <button type="submit" class="button button-primary" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
