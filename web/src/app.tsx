// SPDX-License-Identifier: AGPL-3.0-or-later
// The app shell: session check, the header (search box, navigation, theme, sign out) and the routes.
import { LocationProvider, Route, Router, useLocation } from 'preact-iso';
import { useCallback, useEffect, useState } from 'preact/hooks';
import { UNAUTHORIZED_EVENT, api } from './api';
import { FeaturesContext } from './features';
import { Icon, type IconName } from './components/icons';
import { Loading } from './components/ui';
import { Duplicates } from './pages/Duplicates';
import { Jobs } from './pages/Jobs';
import { Login } from './pages/Login';
import { People } from './pages/People';
import { Person } from './pages/Person';
import { PhotoView } from './pages/PhotoView';
import { Search } from './pages/Search';
import { Settings } from './pages/Settings';
import { Timeline } from './pages/Timeline';
import type { Features, User } from './types';

type Theme = 'light' | 'dark' | 'system';
const THEME_KEY = 'focal.theme';

function applyTheme(theme: Theme) {
  if (theme === 'system') delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = theme;
}

function NavLink({ href, icon, children }: { href: string; icon: IconName; children: string }) {
  const { path } = useLocation();
  const current = href === '/' ? path === '/' || path.startsWith('/photos') : path.startsWith(href);
  return (
    <a href={href} class="nav-link" aria-current={current ? 'page' : undefined}>
      <Icon name={icon} />
      <span>{children}</span>
    </a>
  );
}

function Header({ user, onSignOut }: { user: User; onSignOut: () => void }) {
  const { route, path, query } = useLocation();
  const [q, setQ] = useState(path === '/search' ? (query.q ?? '') : '');
  const [theme, setTheme] = useState<Theme>(() => (localStorage.getItem(THEME_KEY) as Theme | null) ?? 'system');
  useEffect(() => {
    applyTheme(theme);
    localStorage.setItem(THEME_KEY, theme);
  }, [theme]);
  const nextTheme: Record<Theme, Theme> = { system: 'dark', dark: 'light', light: 'system' };
  return (
    <header class="app-header">
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <a href="/" class="brand" aria-label="focal home">
        focal
      </a>
      <form
        role="search"
        class="header-search"
        onSubmit={(e) => {
          e.preventDefault();
          if (q.trim()) route(`/search?q=${encodeURIComponent(q.trim())}`);
        }}
      >
        <label for="header-search" class="visually-hidden">
          Search your photos
        </label>
        <Icon name="search" />
        <input id="header-search" type="search" placeholder="Search your photos" value={q} onInput={(e) => setQ(e.currentTarget.value)} />
      </form>
      <nav aria-label="Main" class="main-nav">
        <NavLink href="/" icon="photos">
          Photos
        </NavLink>
        <NavLink href="/people" icon="people">
          People
        </NavLink>
        <NavLink href="/duplicates" icon="duplicates">
          Duplicates
        </NavLink>
        {user.isAdmin && (
          <NavLink href="/jobs" icon="jobs">
            Jobs
          </NavLink>
        )}
        {user.isAdmin && (
          <NavLink href="/settings" icon="settings">
            Settings
          </NavLink>
        )}
      </nav>
      <div class="header-actions">
        <button type="button" class="button icon-only" aria-label={`Theme: ${theme} (switch to ${nextTheme[theme]})`} onClick={() => setTheme(nextTheme[theme])}>
          <Icon name="theme" />
        </button>
        <button type="button" class="button icon-only" aria-label={`Sign out ${user.email}`} onClick={onSignOut}>
          <Icon name="logout" />
        </button>
      </div>
    </header>
  );
}

function NotFound() {
  return (
    <section class="page">
      <h1>Page not found</h1>
      <p>
        <a href="/">Back to your photos</a>
      </p>
    </section>
  );
}

export function App() {
  const [user, setUser] = useState<User | null | undefined>(undefined);
  const [features, setFeatures] = useState<Features>();

  const refreshSession = useCallback(async () => {
    try {
      const me = await api.me();
      setUser(me);
      setFeatures(await api.features());
    } catch {
      setUser(null);
    }
  }, []);
  useEffect(() => {
    void refreshSession();
    const onUnauthorized = () => setUser(null);
    window.addEventListener(UNAUTHORIZED_EVENT, onUnauthorized);
    return () => window.removeEventListener(UNAUTHORIZED_EVENT, onUnauthorized);
  }, [refreshSession]);
  // Settings change which search modes exist: refresh the feature flags on every navigation.
  const onRouteChange = useCallback(() => {
    if (user) void api.features().then(setFeatures, () => undefined);
  }, [user]);

  if (user === undefined) return <Loading what="focal" />;
  if (user === null) return <Login onSignedIn={() => void refreshSession()} />;
  return (
    <LocationProvider>
      <FeaturesContext.Provider value={features}>
      <Header
        user={user}
        onSignOut={async () => {
          await api.logout().catch(() => undefined);
          setUser(null);
        }}
      />
      <main id="main" tabIndex={-1}>
        <Router onRouteChange={onRouteChange}>
          <Route path="/" component={Timeline} />
          <Route path="/search" component={Search} />
          <Route path="/photos/:id" component={PhotoView} />
          <Route path="/people" component={People} />
          <Route path="/people/:id" component={Person} />
          <Route path="/duplicates" component={Duplicates} />
          <Route path="/jobs" component={Jobs} />
          <Route path="/settings" component={Settings} />
          <Route default component={NotFound} />
        </Router>
      </main>
      </FeaturesContext.Provider>
    </LocationProvider>
  );
}
