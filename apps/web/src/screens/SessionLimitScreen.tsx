import { useMutation } from '@tanstack/react-query';
import { useState } from 'react';
import { useNavigate } from 'react-router';
import { Alert } from '../components/Alert';
import { AuthLayout } from '../components/AuthLayout';
import { deviceTitle } from '../components/DeviceIcon';
import { useFocusOnMount, useNow } from '../components/hooks';
import { SessionSummary } from '../components/SessionSummary';
import { errorReason, genericMessage, type SessionLimit, sessionLimitOf } from '../lib/errors';
import { finishSignIn } from '../lib/finish-sign-in';
import { paths } from '../lib/paths';
import { formatCountdown } from '../lib/time';
import { useTRPC } from '../lib/trpc';
import { useServices } from '../services';

/**
 * The `reject` limit policy refused a new session: show the live ones and let the person end one
 * to continue (single-use ticket, 5 minutes), or cancel.
 */
export function SessionLimitScreen() {
  const trpc = useTRPC();
  const services = useServices();
  const navigate = useNavigate();
  const heading = useFocusOnMount<HTMLHeadingElement>();
  const initial = services.flow.step;
  const [state, setState] = useState<{ limit: SessionLimit; expiresAt: number } | null>(() =>
    initial?.kind === 'limit' ? { limit: initial.sessionLimit, expiresAt: initial.expiresAt } : null,
  );
  const [error, setError] = useState<string | null>(null);
  const [expiredTicket, setExpiredTicket] = useState(false);
  const resolve = useMutation(trpc.auth.resolveSessionLimit.mutationOptions());
  const now = useNow(1000);

  if (!state) return null;
  const { limit, expiresAt } = state;
  const expired = expiredTicket || now >= expiresAt;

  async function end(sessionId: string) {
    setError(null);
    try {
      await resolve.mutateAsync({ ticket: limit.ticket, revokeSessionId: sessionId });
      finishSignIn(services, navigate);
    } catch (err) {
      const again = sessionLimitOf(err);
      if (again) {
        // That session had ended meanwhile and the account is still at the limit: a fresh list.
        services.flow.startLimit(again);
        const step = services.flow.step;
        if (step?.kind === 'limit') setState({ limit: step.sessionLimit, expiresAt: step.expiresAt });
        setError('That session had already ended, but you are still at the limit. Choose another one.');
      } else if (errorReason(err) === 'ticket_invalid') {
        setExpiredTicket(true);
      } else {
        setError(genericMessage(err));
      }
    }
  }

  function cancel() {
    services.flow.clear();
    navigate(paths.signIn);
  }

  const sessions = [...limit.sessions].sort((a, b) => b.lastActivityAt - a.lastActivityAt);
  return (
    <AuthLayout wide>
      <h1 ref={heading} tabIndex={-1} className="auth-card__title">
        You’re signed in on too many devices
      </h1>
      <p className="auth-card__lead">
        Your account can be signed in on up to {limit.limit} device{limit.limit === 1 ? '' : 's'} at once. To
        sign in here, sign out of one of them.
      </p>
      {expired ? (
        <>
          <Alert>This choice expired. Please sign in again.</Alert>
          <button type="button" className="button button--primary button--block" onClick={cancel}>
            Sign in again
          </button>
        </>
      ) : (
        <>
          <Alert>{error}</Alert>
          <ul className="session-list" aria-label="Active sessions">
            {sessions.map((s) => (
              <SessionSummary
                key={s.id}
                session={s}
                now={now}
                action={
                  <button
                    type="button"
                    className="button button--secondary"
                    disabled={resolve.isPending}
                    aria-label={`Sign out ${deviceTitle(s)} and continue`}
                    onClick={() => end(s.id)}
                  >
                    Sign out and continue
                  </button>
                }
              />
            ))}
          </ul>
          <p className="meta-line">
            Choose within <span className="tabular">{formatCountdown(expiresAt - now)}</span>.
          </p>
          <button type="button" className="button button--ghost button--block" onClick={cancel}>
            Cancel
          </button>
        </>
      )}
    </AuthLayout>
  );
}
