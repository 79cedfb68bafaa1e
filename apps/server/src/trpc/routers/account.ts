import { z } from 'zod';
import { cursor, describeEvent, listEvents } from '../audit.js';
import { authedProcedure, router } from '../procedures.js';

export const accountRouter = router({
  /**
   * This account's security events, newest first ("Recent activity": was that me?). `current` marks
   * the events of this very session, `actor.current` the ones this session did.
   */
  activity: authedProcedure
    .input(
      z
        .object({
          cursor: cursor.nullish(),
          limit: z.number().int().min(1).max(50).default(20),
        })
        .optional(),
    )
    .query(async ({ ctx, input }) => {
      const here = ctx.session.id;
      const page = await listEvents(ctx.deps.audit, {
        userId: ctx.session.userId,
        cursor: input?.cursor ?? null,
        limit: input?.limit ?? 20,
      });
      return {
        events: page.events.map((e) => {
          const shown = describeEvent(e);
          return {
            ...shown,
            current: e.sessionId !== null && e.sessionId === here,
            actor: {
              kind: shown.actor.kind,
              current: e.actor.sessionId !== null && e.actor.sessionId === here,
            },
          };
        }),
        nextCursor: page.nextCursor,
      };
    }),
});
