import { useMutation, useQuery } from '@tanstack/react-query';
import { useSubscription } from '@trpc/tanstack-react-query';
import { useState, useSyncExternalStore } from 'react';
import { Link, NavLink, Outlet } from 'react-router';
import { errorReason, genericMessage, isSessionGone } from '../lib/errors';
import { meQueryOptions } from '../lib/me';
import { paths } from '../lib/paths';
import { toEndReason } from '../lib/session';
import { useTRPC } from '../lib/trpc';
import { useServices } from '../services';
import { IdleWatcher } from './IdleWatcher';
import { Logo } from './Logo';
import { ReauthProvider } from './Reauth';

/**
 * The server tells this tab at once when its session ends elsewhere (revoked from another device,
 * evicted by a new sign-in, password changed, expired): server-sent events through
 * httpSubscriptionLink. Opening the stream is one request and the tab never polls; the server looks
 * the session up itself at its deadlines and now and then (apps/server/src/trpc/routers/events.ts).
 */
function useSessionEndedEvents() {
  const trpc = useTRPC();
  const { session } = useServices();
  useSubscription(
    trpc.events.onSessionEnded.subscriptionOptions(undefined, {
      onData: (ended) => void session.end(toEndReason(ended.reason)),
      onError: (error) => {
        if (isSessionGone(error)) void session.end(toEndReason(errorReason(error)));
      },
    }),
  );
}

const navClass = ({ isActive }: { isActive: boolean }) =>
  isActive ? 'nav-link nav-link--active' : 'nav-link';

export function AppShell() {
  const trpc = useTRPC();
  const services = useServices();
  const me = useQuery(meQueryOptions(services.clients.trpc, services.tracker));
  const logout = useMutation(trpc.auth.logout.mutationOptions());
  const notice = useSyncExternalStore(services.session.subscribe, services.session.getNotice);
  const [signOutError, setSignOutError] = useState<string | null>(null);
  useSessionEndedEvents();

  async function signOut() {
    setSignOutError(null);
    const undo = services.session.beginSignOut();
    try {
      await logout.mutateAsync();
    } catch (error) {
      undo();
      // The cookie is httpOnly: only the server can end the session. Say so rather than pretend.
      setSignOutError(`We couldn’t sign you out. ${genericMessage(error)}`);
      return;
    }
    await services.session.end('logged_out');
  }

  const user = me.data?.user;
  return (
    <div className="shell">
      <a href="#main" className="skip-link">
        Skip to content
      </a>
      <header className="topbar">
        <div className="topbar__inner">
          <Link to={paths.sessions} className="topbar__brand" aria-label="Tessera home">
            <Logo />
          </Link>
          <nav className="topbar__nav" aria-label="Account">
            <NavLink to={paths.sessions} className={navClass}>
              Devices
            </NavLink>
            <NavLink to={paths.account} className={navClass}>
              Security
            </NavLink>
            <NavLink to={paths.activity} className={navClass}>
              Activity
            </NavLink>
            {user?.role === 'admin' ? (
              <NavLink to={paths.admin} className={navClass}>
                Admin
              </NavLink>
            ) : null}
          </nav>
          <div className="topbar__user">
            <span className="topbar__email" title={user?.email}>
              {user?.email}
            </span>
            <button
              type="button"
              className="button button--ghost button--small"
              onClick={signOut}
              disabled={logout.isPending}
            >
              Sign out
            </button>
          </div>
        </div>
      </header>
      <div className="shell__notices">
        {signOutError ? (
          <div className="banner banner--error" role="alert">
            <p>{signOutError}</p>
          </div>
        ) : null}
        {notice ? (
          <div className="banner banner--info" role="status">
            <p>{notice}</p>
            <button
              type="button"
              className="button button--ghost button--small"
              onClick={() => services.session.setNotice(null)}
            >
              Dismiss
            </button>
          </div>
        ) : null}
        <IdleWatcher onSignOut={signOut} />
      </div>
      <main id="main" className="page" tabIndex={-1}>
        <ReauthProvider>
          <Outlet />
        </ReauthProvider>
      </main>
    </div>
  );
}
