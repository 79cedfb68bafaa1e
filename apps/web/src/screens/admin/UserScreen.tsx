import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type ReactNode, useEffect, useRef, useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import { Alert } from '../../components/Alert';
import { ConfirmDialog } from '../../components/ConfirmDialog';
import { deviceTitle } from '../../components/DeviceIcon';
import { EventRow } from '../../components/EventList';
import { useNow } from '../../components/hooks';
import { ReauthCancelled, useFresh } from '../../components/Reauth';
import { RelativeTime } from '../../components/RelativeTime';
import { SessionSummary } from '../../components/SessionSummary';
import { actorForAdmin } from '../../lib/activity';
import { errorCode, genericMessage } from '../../lib/errors';
import { meQueryOptions } from '../../lib/me';
import { auditLogPath, paths } from '../../lib/paths';
import { formatDateTime } from '../../lib/time';
import { useTRPC } from '../../lib/trpc';
import { useServices } from '../../services';
import { UserBadges } from './UsersScreen';

type Message = { tone: 'success' | 'error'; text: string } | null;
type Confirm = 'disable' | 'enable' | 'resetMfa' | 'revokeAll' | null;

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** The server's own words for a refusal that is about this user (last admin, yourself, gone). */
function refusalText(error: unknown): string {
  const code = errorCode(error);
  return (code === 'CONFLICT' || code === 'NOT_FOUND' || code === 'BAD_REQUEST') && error instanceof Error
    ? error.message
    : genericMessage(error);
}

function Setting({
  name,
  value,
  hint,
  action,
}: {
  name: string;
  value: ReactNode;
  hint?: ReactNode;
  action?: ReactNode;
}) {
  return (
    <li className="setting">
      <div className="setting__body">
        <h3 className="setting__name">{name}</h3>
        <p className="setting__value">{value}</p>
        {hint ? <p className="setting__hint">{hint}</p> : null}
      </div>
      {action ? <div className="setting__action">{action}</div> : null}
    </li>
  );
}

export function UserScreen() {
  const { userId = '' } = useParams();
  const trpc = useTRPC();
  const services = useServices();
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const heading = useRef<HTMLHeadingElement>(null);
  const fresh = useFresh();
  const now = useNow(30_000);
  const me = useQuery(meQueryOptions(services.clients.trpc, services.tracker));
  const account = useQuery(trpc.admin.getUser.queryOptions({ userId }));
  const setRole = useMutation(trpc.admin.setRole.mutationOptions());
  const revokeSession = useMutation(trpc.admin.revokeSession.mutationOptions());
  const revokeAll = useMutation(trpc.admin.revokeUserSessions.mutationOptions());
  const setDisabled = useMutation(trpc.admin.setDisabled.mutationOptions());
  const resetMfa = useMutation(trpc.admin.resetMfa.mutationOptions());
  const [message, setMessage] = useState<Message>(null);
  const [confirm, setConfirm] = useState<Confirm>(null);
  // The heading exists once the account has loaded (and again when another user's page opens).
  useEffect(() => {
    if (!account.isPending) heading.current?.focus();
  }, [account.isPending]);

  const refresh = () =>
    Promise.all([
      queryClient.invalidateQueries(trpc.admin.getUser.pathFilter()),
      queryClient.invalidateQueries(trpc.admin.listUsers.pathFilter()),
      queryClient.invalidateQueries(trpc.admin.auditEvents.pathFilter()),
    ]);

  /** Every action here: admin + fresh session on the server, so it may ask for the password first. */
  async function act<T>(purpose: string, action: () => Promise<T>, done: (result: T) => string) {
    setMessage(null);
    try {
      const result = await fresh(action, purpose);
      setMessage({ tone: 'success', text: done(result) });
    } catch (error) {
      if (error instanceof ReauthCancelled) return;
      setMessage({ tone: 'error', text: refusalText(error) });
    }
    await refresh();
  }

  if (account.isPending) {
    return (
      <p className="card card--padded" aria-busy="true">
        Loading the account…
      </p>
    );
  }
  if (account.isError) {
    const missing = errorCode(account.error) === 'NOT_FOUND';
    return (
      <div className="screen">
        <h1 ref={heading} tabIndex={-1}>
          {missing ? 'No such user' : 'We can’t load this account'}
        </h1>
        <p role="alert">
          {missing ? 'This account doesn’t exist (any more).' : genericMessage(account.error)}
        </p>
        <Link to={paths.admin}>Back to all users</Link>
      </div>
    );
  }

  const { user, sessions, events } = account.data;
  const self = user.id === me.data?.user.id;
  const currentSessionId = me.data?.session.id;
  const busy =
    setRole.isPending ||
    revokeSession.isPending ||
    revokeAll.isPending ||
    setDisabled.isPending ||
    resetMfa.isPending;
  const email = user.email;

  async function changeRole(role: 'admin' | 'user') {
    await act(
      `change the role of ${email}`,
      () => setRole.mutateAsync({ userId: user.id, role }),
      ({ sessionsUpdated: n }) =>
        `${email} is now ${role === 'admin' ? 'an administrator' : 'a user'}. ${
          n === 0
            ? 'They have no active sessions.'
            : `Their ${plural(n, 'active session')} follow${n === 1 ? 's' : ''} on the next request.`
        }`,
    );
    if (self && role !== 'admin') {
      services.session.setNotice('You are no longer an administrator.');
      await queryClient.invalidateQueries(trpc.auth.me.pathFilter());
      navigate(paths.sessions);
    }
  }

  function confirmed() {
    const what = confirm;
    setConfirm(null);
    if (what === 'disable' || what === 'enable') {
      const disabled = what === 'disable';
      void act(
        `${what} ${email}`,
        () => setDisabled.mutateAsync({ userId: user.id, disabled }),
        ({ sessionsEnded: n }) =>
          disabled
            ? `${email} is disabled. ${n === 0 ? 'They had no active sessions.' : `${plural(n, 'session')} ended.`}`
            : `${email} is enabled and can sign in again.`,
      );
    } else if (what === 'resetMfa') {
      void act(
        `reset two-step verification for ${email}`,
        () => resetMfa.mutateAsync({ userId: user.id }),
        () =>
          `Two-step verification is off for ${email}. They can turn it on again from their Security page.`,
      );
    } else if (what === 'revokeAll') {
      void act(
        `sign out every session of ${email}`,
        () => revokeAll.mutateAsync({ userId: user.id }),
        ({ revoked: n }) =>
          n === 0 ? `${email} had no active sessions.` : `Signed out ${plural(n, 'session')} of ${email}.`,
      );
    }
  }

  return (
    <div className="screen">
      <p className="breadcrumb">
        <Link to={paths.admin}>
          <span aria-hidden="true">← </span>All users
        </Link>
      </p>
      <div className="screen__header">
        <div>
          <h1 ref={heading} tabIndex={-1} className="screen__title-email">
            {email}
          </h1>
          <p className="screen__lead">
            Account created {formatDateTime(user.createdAt)}; password changed{' '}
            <RelativeTime at={user.passwordChangedAt} now={now} />.
          </p>
          <UserBadges user={user} />
        </div>
        <button
          type="button"
          className="button button--ghost button--small"
          onClick={() => void refresh()}
          disabled={account.isFetching}
        >
          {account.isFetching ? 'Refreshing…' : 'Refresh'}
        </button>
      </div>

      <Alert tone={message?.tone ?? 'success'}>{message?.text}</Alert>

      <section className="card" aria-labelledby="user-account">
        <h2 id="user-account" className="card__title">
          Account
        </h2>
        <ul className="settings">
          <Setting
            name="Role"
            value={user.role === 'admin' ? 'Administrator' : 'User'}
            action={
              <button
                type="button"
                className="button button--secondary button--small"
                disabled={busy}
                aria-label={user.role === 'admin' ? `Make ${email} a user` : `Make ${email} an administrator`}
                onClick={() => changeRole(user.role === 'admin' ? 'user' : 'admin')}
              >
                {user.role === 'admin' ? 'Make user' : 'Make administrator'}
              </button>
            }
          />
          <Setting
            name="Two-step verification"
            value={user.mfaEnabled ? 'On' : 'Off'}
            hint={
              self
                ? 'Turn yours on or off from your Security page.'
                : user.mfaEnabled
                  ? 'Reset it when they lost their authenticator: they sign in with their password until they turn it on again.'
                  : 'They can turn it on from their Security page.'
            }
            action={
              user.mfaEnabled && !self ? (
                <button
                  type="button"
                  className="button button--danger button--small"
                  disabled={busy}
                  onClick={() => setConfirm('resetMfa')}
                >
                  Reset two-step verification
                </button>
              ) : null
            }
          />
          <Setting
            name="Status"
            value={
              user.disabled ? (
                <>
                  <span className="badge badge--danger">Disabled</span>
                  {user.disabledAt ? ` since ${formatDateTime(user.disabledAt)}` : ''}
                </>
              ) : (
                'Active'
              )
            }
            hint={
              self
                ? 'You can’t disable your own account.'
                : user.disabled
                  ? 'They can’t sign in. Enabling the account lets them sign in again with their password.'
                  : 'Disabling ends every session at once and refuses sign-in until the account is enabled again.'
            }
            action={
              self ? null : user.disabled ? (
                <button
                  type="button"
                  className="button button--secondary button--small"
                  disabled={busy}
                  onClick={() => setConfirm('enable')}
                >
                  Enable account
                </button>
              ) : (
                <button
                  type="button"
                  className="button button--danger button--small"
                  disabled={busy}
                  onClick={() => setConfirm('disable')}
                >
                  Disable account
                </button>
              )
            }
          />
        </ul>
      </section>

      <section className="card" aria-labelledby="user-sessions">
        <div className="card__header">
          <h2 id="user-sessions" className="card__title card__title--flush">
            Sessions <span className="card__count">({sessions.length})</span>
          </h2>
          {self ? null : (
            <button
              type="button"
              className="button button--danger button--small"
              disabled={busy || sessions.length === 0}
              onClick={() => setConfirm('revokeAll')}
            >
              Sign out all
            </button>
          )}
        </div>
        {sessions.length === 0 ? (
          <p className="card__empty">Not signed in anywhere.</p>
        ) : (
          <ul className="session-list">
            {sessions.map((s) => {
              const title = deviceTitle(s);
              const mine = s.id === currentSessionId;
              return (
                <SessionSummary
                  key={s.id}
                  session={s}
                  now={now}
                  badge={mine ? <span className="badge badge--current">This device</span> : undefined}
                  action={
                    mine ? undefined : (
                      <button
                        type="button"
                        className="button button--secondary button--small"
                        disabled={busy}
                        aria-label={`Sign out ${title}`}
                        onClick={() =>
                          act(
                            `sign out a session of ${email}`,
                            () => revokeSession.mutateAsync({ userId: user.id, sessionId: s.id }),
                            ({ revoked }) =>
                              revoked ? `Signed out ${title}.` : 'That session had already ended.',
                          )
                        }
                      >
                        Sign out
                      </button>
                    )
                  }
                />
              );
            })}
          </ul>
        )}
      </section>

      <section className="card" aria-labelledby="user-events">
        <h2 id="user-events" className="card__title">
          Recent events
        </h2>
        {events.length === 0 ? (
          <p className="card__empty">No events recorded for this account.</p>
        ) : (
          <ol className="event-list">
            {events.map((event) => (
              <EventRow
                key={event.id}
                event={event}
                who={actorForAdmin(event, { userEmail: self ? 'you' : email })}
                now={now}
              />
            ))}
          </ol>
        )}
        <div className="card__footer">
          <Link to={auditLogPath({ email })}>All of this account’s events in the audit log</Link>
        </div>
      </section>

      <ConfirmDialog
        open={confirm === 'disable'}
        title={`Disable ${email}?`}
        confirmLabel="Disable account"
        onConfirm={confirmed}
        onCancel={() => setConfirm(null)}
      >
        <p>
          Every session of this account ends at once, on every device, and sign-in is refused until an
          administrator enables it again.
        </p>
      </ConfirmDialog>
      <ConfirmDialog
        open={confirm === 'enable'}
        title={`Enable ${email}?`}
        confirmLabel="Enable account"
        tone="primary"
        onConfirm={confirmed}
        onCancel={() => setConfirm(null)}
      >
        <p>They can sign in again with their password.</p>
      </ConfirmDialog>
      <ConfirmDialog
        open={confirm === 'resetMfa'}
        title="Reset two-step verification?"
        confirmLabel="Reset two-step verification"
        onConfirm={confirmed}
        onCancel={() => setConfirm(null)}
      >
        <p>
          {email} will sign in with their password alone until they turn two-step verification on again. Do
          this only once you know it is really them asking.
        </p>
      </ConfirmDialog>
      <ConfirmDialog
        open={confirm === 'revokeAll'}
        title={`Sign out every session of ${email}?`}
        confirmLabel="Sign out all"
        onConfirm={confirmed}
        onCancel={() => setConfirm(null)}
      >
        <p>Every device where they are signed in is signed out at once. They can sign in again.</p>
      </ConfirmDialog>
    </div>
  );
}

export default UserScreen;
