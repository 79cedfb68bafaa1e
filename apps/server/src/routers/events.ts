import type { SessionEnded } from '../sessions/event-bus.js';
import { authedProcedure, router } from '../trpc.js';

/** Re-checks at least this often that the session still exists (covers ends no event announced). */
const MAX_CHECK_INTERVAL_MS = 60_000;

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

    const ended = await new Promise<SessionEnded | null>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (value: SessionEnded | null) => {
        clearTimeout(timer);
        unsubscribe();
        signal?.removeEventListener('abort', onAbort);
        ctx.closing.removeEventListener('abort', onAbort);
        resolve(value);
      };
      const onAbort = () => done(null);
      const unsubscribe = events.subscribe(id, done);
      const schedule = (at: number) => {
        const wait = Math.min(MAX_CHECK_INTERVAL_MS, Math.max(250, at - clock() + 50));
        timer = setTimeout(check, wait);
      };
      // Deadlines pass silently (no request ends them): look the session up when one is due.
      const check = async () => {
        try {
          const live = (await sessions.list(userId)).find((s) => s.id === id);
          if (live) {
            known = { idleExpiresAt: live.idleExpiresAt, absoluteExpiresAt: live.absoluteExpiresAt };
            return schedule(live.idleExpiresAt);
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
      schedule(known.idleExpiresAt);
    });
    if (ended) yield ended;
  }),
});
