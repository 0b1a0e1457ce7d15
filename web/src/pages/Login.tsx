// SPDX-License-Identifier: AGPL-3.0-or-later
// Sign in, or create the first admin account on a new server.
import { useState } from 'preact/hooks';
import { api } from '../api';
import { Notice, errorText, useLoad } from '../components/ui';

export function Login({ onSignedIn }: { onSignedIn: () => void }) {
  const config = useLoad(() => api.serverConfig(), []);
  const [name, setName] = useState('');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const signUp = config.data?.isInitialized === false;

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    try {
      if (signUp) await api.signUp(name.trim(), email.trim(), password);
      await api.login(email.trim(), password);
      onSignedIn();
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="login" id="main">
      <form class="card login-card" onSubmit={submit} aria-labelledby="login-title">
        <h1 id="login-title">{signUp ? 'Welcome to focal' : 'Sign in to focal'}</h1>
        {signUp && <p class="muted">Create the admin account of this server.</p>}
        {config.error && <Notice>{config.error}</Notice>}
        {signUp && (
          <label>
            Name
            <input required autocomplete="name" value={name} onInput={(e) => setName(e.currentTarget.value)} />
          </label>
        )}
        <label>
          Email
          <input
            required
            type="email"
            autocomplete="username"
            value={email}
            onInput={(e) => setEmail(e.currentTarget.value)}
          />
        </label>
        <label>
          Password
          <input
            required
            type="password"
            minLength={signUp ? 8 : undefined}
            autocomplete={signUp ? 'new-password' : 'current-password'}
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
        </label>
        {error && <Notice>{error}</Notice>}
        <button class="button primary" type="submit" disabled={busy || config.loading}>
          {signUp ? 'Create admin account' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
