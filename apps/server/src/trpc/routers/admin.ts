import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { publicUser, ROLES } from '../../users/repository.js';
import { adminProcedure, router } from '../procedures.js';
import { userId } from './inputs.js';

export const adminRouter = router({
  /** Users, oldest first (paged). */
  listUsers: adminProcedure
    .input(
      z
        .object({
          limit: z.number().int().min(1).max(500).default(100),
          offset: z.number().int().min(0).default(0),
        })
        .optional(),
    )
    .query(async ({ ctx, input }) => {
      const { users, sessions } = ctx.deps;
      const page = { limit: input?.limit ?? 100, offset: input?.offset ?? 0 };
      const [list, total] = await Promise.all([users.list(page), users.count()]);
      // One store call per listed user (a page is at most 500): the live sessions, as users see them.
      const counts = await Promise.all(list.map(async (u) => (await sessions.list(u.id)).length));
      return {
        total,
        users: list.map((u, i) => ({
          ...publicUser(u),
          createdAt: u.createdAt,
          passwordChangedAt: u.passwordChangedAt,
          sessionCount: counts[i] ?? 0,
        })),
      };
    }),

  /**
   * Changes a user's role. Every live session of that user gets the new role at once (a demotion
   * applies on its very next request) and a new token on that request (privilege change).
   */
  setRole: adminProcedure
    .input(z.object({ userId, role: z.enum(ROLES) }))
    .mutation(async ({ ctx, input }) => {
      const { users, sessions, log } = ctx.deps;
      const target = await users.findById(input.userId);
      if (!target) throw new TRPCError({ code: 'NOT_FOUND', message: 'No such user' });
      if (target.role === 'admin' && input.role !== 'admin' && (await users.countAdmins()) <= 1) {
        throw new TRPCError({
          code: 'CONFLICT',
          message: 'This is the last administrator: promote another one first.',
        });
      }
      // Crash-safe order (test/faults/crash.test.ts): a demotion reaches the sessions before the
      // database as well as after it, so a process killed in between never leaves a session with
      // more privilege than the database grants. The pass after the write also reaches sessions a
      // racing sign-in created meanwhile; issueSession re-reads the role for any later one.
      const apply = () => sessions.updateUser(target.id, { role: input.role }, { rotate: true });
      if (input.role !== 'admin') await apply();
      const updated = await users.setRole(target.id, input.role);
      if (!updated) throw new TRPCError({ code: 'NOT_FOUND', message: 'No such user' });
      const sessionsUpdated = await apply();
      log.info(
        { by: ctx.session.userId, userId: target.id, role: input.role, sessionsUpdated },
        'role changed',
      );
      return { user: publicUser(updated), sessionsUpdated };
    }),

  /** Ends every session of a user (ASVS 5.0 7.4.5: administrators can terminate a user's sessions). */
  revokeUserSessions: adminProcedure.input(z.object({ userId })).mutation(async ({ ctx, input }) => {
    const { users, sessions, log } = ctx.deps;
    const target = await users.findById(input.userId);
    if (!target) throw new TRPCError({ code: 'NOT_FOUND', message: 'No such user' });
    const revoked = await sessions.revokeAll(target.id);
    log.info({ by: ctx.session.userId, userId: target.id, revoked }, 'sessions revoked by an admin');
    return { revoked };
  }),
});
