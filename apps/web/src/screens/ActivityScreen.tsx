import { useInfiniteQuery, useMutation, useQueryClient } from '@tanstack/react-query';
import { useRef, useState } from 'react';
import { useNavigate } from 'react-router';
import { Alert } from '../components/Alert';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { deviceTitle } from '../components/DeviceIcon';
import { EventRow } from '../components/EventList';
import { useFocusOnMount, useNow } from '../components/hooks';
import { LoadMoreFooter } from '../components/LoadMoreFooter';
import { ReauthCancelled, useFresh } from '../components/Reauth';
import { actorForOwner, canDisown, type EventLike, shownSummary } from '../lib/activity';
import { genericMessage } from '../lib/errors';
import { changePasswordPath } from '../lib/paths';
import { formatDateTime } from '../lib/time';
import { useTRPC } from '../lib/trpc';
import { useServices } from '../services';

export const ACTIVITY_PAGE_SIZE = 20;

/** Where the password change picks up after "This wasn't me" (AppShell's notice). */
export function disownedMessage(revoked: number): string {
  const ended =
    revoked === 0
      ? 'No other session was signed in.'
      : `We signed out ${revoked} other session${revoked === 1 ? '' : 's'}.`;
  return `${ended} Now change your password: whoever signed in may know it.`;
}

export function ActivityScreen() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const services = useServices();
  const heading = useFocusOnMount<HTMLHeadingElement>();
  const fresh = useFresh();
  const now = useNow(30_000);
  const activity = useInfiniteQuery(
    trpc.account.activity.infiniteQueryOptions(
      { limit: ACTIVITY_PAGE_SIZE },
      { getNextPageParam: (page) => page.nextCursor },
    ),
  );
  const revokeOthers = useMutation(trpc.sessions.revokeOthers.mutationOptions());
  const [disowning, setDisowning] = useState<EventLike | null>(null);
  const [error, setError] = useState<string | null>(null);
  // After "Load more", focus moves to the first new event (the button may be gone by then).
  const firstNew = useRef<HTMLLIElement | null>(null);
  const [focusIndex, setFocusIndex] = useState<number | null>(null);

  const events = activity.data?.pages.flatMap((page) => page.events) ?? [];
  const refresh = () => queryClient.invalidateQueries(trpc.account.activity.pathFilter());

  async function loadMore() {
    const before = events.length;
    const result = await activity.fetchNextPage();
    if (!result.isError) {
      setFocusIndex(before);
      requestAnimationFrame(() => firstNew.current?.focus());
    }
  }

  async function notMe() {
    setDisowning(null);
    setError(null);
    try {
      const { revoked } = await fresh(() => revokeOthers.mutateAsync(), 'sign out everywhere else');
      services.session.setNotice(disownedMessage(revoked));
      await queryClient.invalidateQueries(trpc.sessions.list.pathFilter());
      navigate(changePasswordPath);
    } catch (err) {
      if (err instanceof ReauthCancelled) return;
      setError(`We couldn’t sign out your other sessions. ${genericMessage(err)}`);
    }
  }

  return (
    <div className="screen">
      <div className="screen__header">
        <div>
          <h1 ref={heading} tabIndex={-1}>
            Recent activity
          </h1>
          <p className="screen__lead">
            Sign-ins and changes to your account’s security, newest first. If something wasn’t you, use “This
            wasn’t me”: we’ll sign out every other session, then you change your password.
          </p>
        </div>
        <button
          type="button"
          className="button button--ghost button--small"
          onClick={refresh}
          disabled={activity.isFetching}
        >
          {activity.isFetching && !activity.isFetchingNextPage ? 'Refreshing…' : 'Refresh'}
        </button>
      </div>

      <Alert>{error}</Alert>

      {activity.isPending ? (
        <p className="card card--padded" aria-busy="true">
          Loading your activity…
        </p>
      ) : activity.isError && events.length === 0 ? (
        <div className="card card--padded">
          <p role="alert">{genericMessage(activity.error)}</p>
          <button type="button" className="button button--secondary" onClick={refresh}>
            Try again
          </button>
        </div>
      ) : (
        <section className="card" aria-labelledby="activity-title">
          <h2 id="activity-title" className="card__title">
            Your account’s events
          </h2>
          {events.length === 0 ? (
            <p className="card__empty">Nothing has happened on your account yet.</p>
          ) : (
            <ol className="event-list">
              {events.map((event, index) => (
                <EventRow
                  key={event.id}
                  ref={index === focusIndex ? firstNew : undefined}
                  event={event}
                  who={actorForOwner(event)}
                  now={now}
                  action={
                    canDisown(event) ? (
                      <button
                        type="button"
                        className="button button--secondary button--small"
                        aria-label={`This wasn’t me: the sign-in on ${deviceTitle(event)}, ${formatDateTime(event.at)}`}
                        onClick={() => setDisowning(event)}
                        disabled={revokeOthers.isPending}
                      >
                        This wasn’t me
                      </button>
                    ) : null
                  }
                />
              ))}
            </ol>
          )}
          <LoadMoreFooter
            status={events.length === 0 ? '' : shownSummary(events.length, activity.hasNextPage)}
            pages={activity}
            onLoadMore={loadMore}
          />
        </section>
      )}

      <ConfirmDialog
        open={disowning !== null}
        title="Secure your account"
        confirmLabel="Sign out everywhere else"
        onConfirm={notMe}
        onCancel={() => setDisowning(null)}
      >
        <p>
          {disowning
            ? `Someone signed in on ${deviceTitle(disowning)}${disowning.ip ? ` from ${disowning.ip}` : ''} on ${formatDateTime(disowning.at)}. `
            : ''}
          We’ll sign out every session except this one, then take you to change your password.
        </p>
      </ConfirmDialog>
    </div>
  );
}
