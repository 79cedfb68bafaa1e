import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Alert } from '../components/Alert';
import { deviceTitle } from '../components/DeviceIcon';
import { useFocusOnMount, useNow } from '../components/hooks';
import { ReauthCancelled, useFresh } from '../components/Reauth';
import { SessionSummary } from '../components/SessionSummary';
import { errorCode, genericMessage } from '../lib/errors';
import { useTRPC } from '../lib/trpc';

type Message = { tone: 'success' | 'error'; text: string } | null;

export function SessionsScreen() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const heading = useFocusOnMount<HTMLHeadingElement>();
  const fresh = useFresh();
  const now = useNow(30_000);
  const list = useQuery(trpc.sessions.list.queryOptions());
  const revoke = useMutation(trpc.sessions.revoke.mutationOptions());
  const revokeOthers = useMutation(trpc.sessions.revokeOthers.mutationOptions());
  const [message, setMessage] = useState<Message>(null);

  const refresh = () => queryClient.invalidateQueries(trpc.sessions.list.pathFilter());

  async function signOutSession(id: string, title: string) {
    setMessage(null);
    try {
      await fresh(() => revoke.mutateAsync({ sessionId: id }), `sign out ${title}`);
      setMessage({ tone: 'success', text: `Signed out ${title}.` });
    } catch (error) {
      if (error instanceof ReauthCancelled) return;
      setMessage({
        tone: 'error',
        text: errorCode(error) === 'NOT_FOUND' ? 'That session had already ended.' : genericMessage(error),
      });
    }
    await refresh();
  }

  async function signOutOthers() {
    setMessage(null);
    try {
      const { revoked } = await fresh(() => revokeOthers.mutateAsync(), 'sign out everywhere else');
      setMessage({
        tone: 'success',
        text:
          revoked === 0
            ? 'You weren’t signed in anywhere else.'
            : `Signed out of ${revoked} other session${revoked === 1 ? '' : 's'}.`,
      });
    } catch (error) {
      if (error instanceof ReauthCancelled) return;
      setMessage({ tone: 'error', text: genericMessage(error) });
    }
    await refresh();
  }

  const sessions = list.data ?? [];
  const current = sessions.find((s) => s.current);
  const others = sessions.filter((s) => !s.current).sort((a, b) => b.lastActivityAt - a.lastActivityAt);
  const busy = revoke.isPending || revokeOthers.isPending;

  return (
    <div className="screen">
      <div className="screen__header">
        <div>
          <h1 ref={heading} tabIndex={-1}>
            Where you’re signed in
          </h1>
          <p className="screen__lead">
            These devices are signed in to your account. If you don’t recognise one, sign it out and change
            your password.
          </p>
        </div>
        <button
          type="button"
          className="button button--ghost button--small"
          onClick={refresh}
          disabled={list.isFetching}
        >
          {list.isFetching ? 'Refreshing…' : 'Refresh'}
        </button>
      </div>

      <Alert tone={message?.tone ?? 'success'}>{message?.text}</Alert>

      {list.isPending ? (
        <p className="card card--padded" aria-busy="true">
          Loading your sessions…
        </p>
      ) : list.isError ? (
        <div className="card card--padded">
          <p role="alert">{genericMessage(list.error)}</p>
          <button type="button" className="button button--secondary" onClick={refresh}>
            Try again
          </button>
        </div>
      ) : (
        <>
          <section className="card" aria-labelledby="this-device">
            <h2 id="this-device" className="card__title">
              Current session
            </h2>
            <ul className="session-list">
              {current ? (
                <SessionSummary
                  session={current}
                  now={now}
                  badge={<span className="badge badge--current">This device</span>}
                />
              ) : null}
            </ul>
          </section>

          <section className="card" aria-labelledby="other-sessions">
            <h2 id="other-sessions" className="card__title">
              Other sessions <span className="card__count">({others.length})</span>
            </h2>
            {others.length === 0 ? (
              <p className="card__empty">You’re not signed in anywhere else.</p>
            ) : (
              <ul className="session-list">
                {others.map((s) => {
                  const title = deviceTitle(s);
                  return (
                    <SessionSummary
                      key={s.id}
                      session={s}
                      now={now}
                      action={
                        <button
                          type="button"
                          className="button button--secondary"
                          disabled={busy}
                          aria-label={`Sign out ${title}`}
                          onClick={() => signOutSession(s.id, title)}
                        >
                          Sign out
                        </button>
                      }
                    />
                  );
                })}
              </ul>
            )}
          </section>

          <section className="card card--padded card--danger" aria-labelledby="everywhere-else">
            <h2 id="everywhere-else" className="card__title card__title--flush">
              Sign out everywhere else
            </h2>
            <p>
              Ends every session except this one. Use it if you lost a device or signed in on a shared
              computer.
            </p>
            <button
              type="button"
              className="button button--danger"
              disabled={busy || others.length === 0}
              onClick={signOutOthers}
            >
              Sign out everywhere else
            </button>
          </section>
        </>
      )}
    </div>
  );
}
