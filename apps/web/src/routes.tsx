/**
 * The route tree (React Router 7, declarative mode) and its guards. Only the sign-in and signed-out
 * screens are in the initial bundle; the signed-in shell and its screens, the MFA and session-limit
 * steps load on demand. Paths come from the typed table in lib/paths.ts.
 */
import { useQuery } from '@tanstack/react-query';
import { lazy, type ReactNode, Suspense, useEffect } from 'react';
import { flushSync } from 'react-dom';
import { Navigate, Route, Routes, useNavigate } from 'react-router';
import { ErrorScreen } from './components/ErrorScreen';
import { errorCode, errorReason } from './lib/errors';
import { meQueryOptions } from './lib/me';
import { adminUserRoute, paths, signedOutPath } from './lib/paths';
import { toEndReason } from './lib/session';
import type { SignInStep } from './lib/sign-in-flow';
import { SignedOutScreen } from './screens/SignedOutScreen';
import { SignInScreen } from './screens/SignInScreen';
import { useServices } from './services';

const AppShell = lazy(() => import('./components/AppShell').then((m) => ({ default: m.AppShell })));
const MfaScreen = lazy(() => import('./screens/MfaScreen').then((m) => ({ default: m.MfaScreen })));
const SessionLimitScreen = lazy(() =>
  import('./screens/SessionLimitScreen').then((m) => ({ default: m.SessionLimitScreen })),
);
const SessionsScreen = lazy(() =>
  import('./screens/SessionsScreen').then((m) => ({ default: m.SessionsScreen })),
);
const AccountScreen = lazy(() =>
  import('./screens/AccountScreen').then((m) => ({ default: m.AccountScreen })),
);
const ActivityScreen = lazy(() =>
  import('./screens/ActivityScreen').then((m) => ({ default: m.ActivityScreen })),
);
const AdminLayout = lazy(() => import('./screens/admin/AdminLayout'));
const UsersScreen = lazy(() => import('./screens/admin/UsersScreen'));
const UserScreen = lazy(() => import('./screens/admin/UserScreen'));
const AuditLogScreen = lazy(() => import('./screens/admin/AuditLogScreen'));

export function Loading({ label = 'Loading' }: { label?: string }) {
  return (
    <div className="loading" role="status" aria-live="polite">
      <span className="loading__spinner" aria-hidden="true" />
      <span className="visually-hidden">{label}…</span>
    </div>
  );
}

/** Lets the session controller navigate from outside React (session ended, tab messages). */
function NavigationBridge() {
  const navigate = useNavigate();
  const { session } = useServices();
  useEffect(() => {
    // Synchronously: when a session ends, the signed-in screens must be gone before the cache is cleared.
    session.setNavigate((to) => flushSync(() => navigate(to, { replace: true })));
    return () => session.setNavigate(null);
  }, [navigate, session]);
  return null;
}

function useMe() {
  const { clients, tracker } = useServices();
  return useQuery(meQueryOptions(clients.trpc, tracker));
}

/** The signed-in screens: a live session (auth.me) or the way out, with the reason. */
function RequireSession() {
  const me = useMe();
  const { session } = useServices();
  if (me.isPending) return <Loading />;
  if (me.isError) {
    if (errorCode(me.error) !== 'UNAUTHORIZED')
      return <ErrorScreen error={me.error} reset={() => void me.refetch()} />;
    session.forget();
    const reason = errorReason(me.error);
    // No cookie at all: just sign in. A cookie the server refused: say why first.
    return (
      <Navigate
        to={reason === 'missing' || reason === null ? paths.signIn : signedOutPath(toEndReason(reason))}
        replace
      />
    );
  }
  session.markSignedIn();
  return (
    <Suspense fallback={<Loading />}>
      <AppShell />
    </Suspense>
  );
}

function RequireAdmin({ children }: { children: ReactNode }) {
  const me = useMe();
  if (me.data?.user.role !== 'admin') return <Navigate to={paths.sessions} replace />;
  return children;
}

/** The sign-in page, unless this browser is signed in already. */
function GuestOnly({ children }: { children: ReactNode }) {
  const me = useMe();
  if (me.isPending) return <Loading />;
  if (me.isSuccess) return <Navigate to={paths.sessions} replace />;
  return children;
}

/** The MFA and limit steps exist only in memory, right after a password was accepted. */
function RequireStep({ kind, children }: { kind: SignInStep['kind']; children: ReactNode }) {
  const { flow } = useServices();
  if (flow.step?.kind !== kind) return <Navigate to={paths.signIn} replace />;
  return <Suspense fallback={<Loading />}>{children}</Suspense>;
}

const screen = (node: ReactNode) => <Suspense fallback={<Loading />}>{node}</Suspense>;

export function AppRoutes() {
  return (
    <>
      <NavigationBridge />
      <Routes>
        <Route
          path={paths.signIn}
          element={
            <GuestOnly>
              <SignInScreen />
            </GuestOnly>
          }
        />
        <Route
          path={paths.mfa}
          element={
            <RequireStep kind="mfa">
              <MfaScreen />
            </RequireStep>
          }
        />
        <Route
          path={paths.sessionLimit}
          element={
            <RequireStep kind="limit">
              <SessionLimitScreen />
            </RequireStep>
          }
        />
        <Route path={paths.signedOut} element={<SignedOutScreen />} />
        <Route element={<RequireSession />}>
          <Route index element={<Navigate to={paths.sessions} replace />} />
          <Route path={paths.sessions} element={screen(<SessionsScreen />)} />
          <Route path={paths.account} element={screen(<AccountScreen />)} />
          <Route path={paths.activity} element={screen(<ActivityScreen />)} />
          <Route path={paths.admin} element={<RequireAdmin>{screen(<AdminLayout />)}</RequireAdmin>}>
            <Route index element={screen(<UsersScreen />)} />
            <Route path={adminUserRoute} element={screen(<UserScreen />)} />
            <Route path={paths.auditLog} element={screen(<AuditLogScreen />)} />
          </Route>
        </Route>
        <Route path="*" element={<Navigate to={paths.home} replace />} />
      </Routes>
    </>
  );
}
