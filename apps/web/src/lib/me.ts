/**
 * `auth.me` with the side effect every caller needs: the deadline tracker learns the session's
 * deadlines and the clock offset from each answer. Same query key as `trpc.auth.me.queryOptions()`,
 * so `trpc.auth.me.pathFilter()` invalidates it.
 */
import { queryOptions } from '@tanstack/react-query';
import type { DeadlineTracker } from './deadlines';
import type { Trpc } from './trpc';

export function meQueryOptions(trpc: Trpc, tracker: DeadlineTracker) {
  const base = trpc.auth.me.queryOptions(undefined, { staleTime: 60_000, retry: false });
  const fetchMe = base.queryFn!;
  return queryOptions({
    ...base,
    queryFn: async (context: Parameters<typeof fetchMe>[0]) => {
      const sentAt = Date.now();
      const me = await fetchMe(context);
      tracker.fromMe(me.session, sentAt);
      return me;
    },
  });
}

export type Me = Awaited<ReturnType<NonNullable<ReturnType<typeof meQueryOptions>['queryFn']>>>;
