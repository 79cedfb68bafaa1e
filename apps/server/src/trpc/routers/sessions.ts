import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { describeUserAgent } from '../../sessions/user-agent.js';
import { actingAs } from '../audit.js';
import { authedProcedure, freshProcedure, router } from '../procedures.js';
import { sessionId } from './inputs.js';

export const sessionsRouter = router({
  /** Every live session of the signed-in user, oldest first; `current` marks this one. Never a token. */
  list: authedProcedure.query(async ({ ctx }) => {
    const sessions = await ctx.deps.sessions.list(ctx.session.userId);
    return sessions.map((s) => ({
      id: s.id,
      current: s.id === ctx.session.id,
      ...describeUserAgent(s.userAgent),
      userAgent: s.userAgent,
      ip: s.ip,
      createdAt: s.createdAt,
      lastActivityAt: s.lastActivityAt,
      idleExpiresAt: s.idleExpiresAt,
      absoluteExpiresAt: s.absoluteExpiresAt,
      /** When the session bound to this device's key (DBSC): its cookies alone can't be replayed elsewhere. */
      deviceBoundAt: s.deviceBoundAt,
    }));
  }),

  /** Ends another session of this user (it is rejected on its very next request, on any instance). */
  revoke: freshProcedure.input(z.object({ sessionId })).mutation(async ({ ctx, input }) => {
    if (input.sessionId === ctx.session.id) {
      throw new TRPCError({ code: 'BAD_REQUEST', message: 'Use auth.logout to end the current session.' });
    }
    const ended = await ctx.deps.sessions.revoke(ctx.session.userId, input.sessionId, {
      context: actingAs(ctx),
    });
    // Someone else's session id, an ended one and a made-up one look alike.
    if (!ended) throw new TRPCError({ code: 'NOT_FOUND', message: 'No such session' });
    return { revoked: true };
  }),

  /**
   * Ends every session of this user but the current one. Returns how many. Also the first step of
   * "This wasn't me" on the Security page (the SPA then leads to the password change).
   */
  revokeOthers: freshProcedure.mutation(async ({ ctx }) => {
    const revoked = await ctx.deps.sessions.revokeAll(ctx.session.userId, {
      except: ctx.session.id,
      context: actingAs(ctx),
    });
    return { revoked };
  }),
});
