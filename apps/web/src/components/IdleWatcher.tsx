import { useMutation } from '@tanstack/react-query';
import { useEffect, useId, useState, useSyncExternalStore } from 'react';
import { absoluteNoticeLead, idleWarningLead } from '../lib/deadlines';
import { genericMessage } from '../lib/errors';
import { formatCountdown, formatTime, formatWait } from '../lib/time';
import { useTRPC } from '../lib/trpc';
import { useServices } from '../services';
import { Dialog } from './Dialog';
import { useNow } from './hooks';

/** What a screen reader hears while the countdown runs (not every second: at these marks). */
function announcement(seconds: number): string | null {
  for (const mark of [60, 30, 10])
    if (seconds <= mark && seconds > mark - 5) return `${formatWait(mark)} left.`;
  return null;
}

/**
 * The session's two deadlines, on this browser's clock, without polling the server:
 *  - a dialog before the idle deadline with a countdown, "Stay signed in" (auth.ping) and "Sign out";
 *  - a notice before the absolute deadline (nothing can extend that one);
 *  - when a deadline passes, this tab shows the signed-out screen (the server's event usually comes
 *    first; this covers a lost connection).
 */
export function IdleWatcher({ onSignOut }: { onSignOut: () => Promise<void> }) {
  const trpc = useTRPC();
  const { tracker, session } = useServices();
  const state = useSyncExternalStore(tracker.subscribe, tracker.getSnapshot);
  const now = useNow(1000);
  const ping = useMutation(trpc.auth.ping.mutationOptions());
  const [pingError, setPingError] = useState<string | null>(null);
  const [noticeDismissedFor, setNoticeDismissedFor] = useState<number | null>(null);
  const titleId = useId();
  const descriptionId = useId();

  const { idleAt, absoluteAt, idleMs, absoluteMs } = state;
  const known = idleAt !== null && absoluteAt !== null && idleMs !== null && absoluteMs !== null;
  const endAt = known ? Math.min(idleAt, absoluteAt) : null;

  useEffect(() => {
    if (endAt === null || absoluteAt === null) return;
    const timer = setTimeout(
      () => void session.end(endAt >= absoluteAt ? 'absolute_timeout' : 'idle_timeout'),
      Math.max(0, endAt - Date.now()),
    );
    return () => clearTimeout(timer);
  }, [endAt, absoluteAt, session]);

  if (!known) return null;
  const idleLeft = idleAt - now;
  const absoluteLeft = absoluteAt - now;
  // When the idle deadline is the absolute one, "stay signed in" can't help: the notice covers it.
  const idleWarning = idleAt < absoluteAt && idleLeft <= idleWarningLead(idleMs);
  const absoluteNotice = absoluteLeft <= absoluteNoticeLead(absoluteMs) && noticeDismissedFor !== absoluteAt;
  const seconds = Math.max(0, Math.ceil(idleLeft / 1000));

  async function staySignedIn() {
    setPingError(null);
    try {
      const result = await ping.mutateAsync();
      tracker.fromServer(result.idleExpiresAt);
    } catch (error) {
      setPingError(genericMessage(error));
    }
  }

  return (
    <>
      {absoluteNotice ? (
        <div className="banner banner--warning" role="status">
          <p>
            <strong>Your session ends at {formatTime(absoluteAt)}</strong> (in{' '}
            {formatWait(Math.max(1, Math.ceil(absoluteLeft / 1000)))}). For your security, sessions have a
            maximum length. Save your work; you’ll need to sign in again.
          </p>
          <button
            type="button"
            className="button button--ghost button--small"
            onClick={() => setNoticeDismissedFor(absoluteAt)}
          >
            Dismiss
          </button>
        </div>
      ) : null}
      <Dialog
        open={idleWarning}
        onCancel={staySignedIn}
        titleId={titleId}
        descriptionId={descriptionId}
        role="alertdialog"
      >
        <h2 id={titleId} className="dialog__title">
          Are you still there?
        </h2>
        <p id={descriptionId}>
          For your security, you’ll be signed out because of inactivity in{' '}
          <strong className="tabular countdown" aria-hidden="true">
            {formatCountdown(idleLeft)}
          </strong>
          <span className="visually-hidden">{formatWait(seconds)}</span>.
        </p>
        <p className="visually-hidden" aria-live="assertive">
          {announcement(seconds)}
        </p>
        {pingError ? (
          <p role="alert" className="field__error">
            {pingError}
          </p>
        ) : null}
        <div className="dialog__actions">
          <button type="button" className="button button--ghost" onClick={() => void onSignOut()}>
            Sign out
          </button>
          <button
            type="button"
            className="button button--primary"
            onClick={staySignedIn}
            disabled={ping.isPending}
            data-autofocus
          >
            Stay signed in
          </button>
        </div>
      </Dialog>
    </>
  );
}
