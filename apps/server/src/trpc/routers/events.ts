import type { SessionEnded } from '../../sessions/event-bus.js';
import { authedProcedure, router } from '../procedures.js';

/**
 * How long a subscription goes without looking its session up itself, besides at the session's
 * deadlines (which pass silently: no request ends them). With a bus that hears every instance, events
 * are only missed while the subscriber is disconnected, and the bus reports that gap (a look-up then);
 * the long interval covers ends no event announced at all (keys deleted by hand, a Redis restored from
 * an old snapshot). With a local bus, other instances' ends are never heard: look often.
 * At scale every open tab costs one look-up per interval (docs/SCALING.md): 10 minutes instead of 1
 * cuts that load tenfold.
 */
const CHECK_INTERVAL_MS = { shared: 10 * 60_000, local: 60_000 } as const;

export const eventsRouter = router({
  /**
   * Server-sent events (httpSubscriptionLink): yields once, `{ sessionId, reason, at }`, when this
   * session ends (logout elsewhere, revoked, evicted, password changed, idle or absolute timeout),
   * then completes. Across instances through Redis pub/sub when Redis is the store.
   */
  onSessionEnded: authedProcedure.subscription(async function* ({ ctx, signal }) {
    const { events, sessions, clock } = ctx.deps;
    const { id, userId } = ctx.session;
    let known = {
      idleExpiresAt: ctx.session.idleExpiresAt,
      absoluteExpiresAt: ctx.session.absoluteExpiresAt,
    };

    const streamClosed = ctx.deps.metrics.streamOpened();
    try {
      const ended = await waitForEnd();
      if (ended) yield ended;
    } finally {
      streamClosed(); // also when the client leaves (the generator's return())
    }

    function waitForEnd() {
      return new Promise<SessionEnded | null>((resolve) => {
        let timer: NodeJS.Timeout | undefined;
        // A look-up still in flight when the stream ends must not schedule another one.
        let finished = false;
        const done = (value: SessionEnded | null) => {
          if (finished) return;
          finished = true;
          clearTimeout(timer);
          unsubscribe();
          signal?.removeEventListener('abort', onAbort);
          ctx.closing.removeEventListener('abort', onAbort);
          resolve(value);
        };
        const onAbort = () => done(null);
        const unsubscribeEnded = events.subscribe(id, done);
        const unsubscribeGap = events.onGap(() => {
          clearTimeout(timer);
          void check();
        });
        const unsubscribe = () => {
          unsubscribeEnded();
          unsubscribeGap();
        };
        const maxWait = events.shared ? CHECK_INTERVAL_MS.shared : CHECK_INTERVAL_MS.local;
        const schedule = (at: number) => {
          if (finished) return;
          clearTimeout(timer);
          const wait = Math.min(maxWait, Math.max(250, at - clock() + 50));
          timer = setTimeout(check, wait);
        };
        // Deadlines pass silently (no request ends them): look the session up when one is due.
        const check = async () => {
          if (finished) return;
          try {
            const live = (await sessions.list(userId)).find((s) => s.id === id);
            if (live) {
              known = { idleExpiresAt: live.idleExpiresAt, absoluteExpiresAt: live.absoluteExpiresAt };
              return schedule(Math.min(live.idleExpiresAt, live.absoluteExpiresAt));
            }
            const now = clock();
            const reason =
              now >= known.absoluteExpiresAt
                ? 'absolute_timeout'
                : now >= known.idleExpiresAt
                  ? 'idle_timeout'
                  : 'ended';
            done({ sessionId: id, reason, at: now });
          } catch {
            schedule(clock() + 5_000); // store unreachable: keep waiting, look again soon
          }
        };
        signal?.addEventListener('abort', onAbort);
        ctx.closing.addEventListener('abort', onAbort);
        if (signal?.aborted || ctx.closing.aborted) return done(null);
        schedule(Math.min(known.idleExpiresAt, known.absoluteExpiresAt));
      });
    }
  }),
});
