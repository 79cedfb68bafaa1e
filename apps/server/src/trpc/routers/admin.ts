import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import type { ActingContext } from '../../audit/actor.js';
import { attribute } from '../../audit/attribution.js';
import { AUDIT_EVENT_TYPES } from '../../audit/events.js';
import { describeUserAgent } from '../../sessions/user-agent.js';
import { publicUser, ROLES, type User, type UserKey, type UserSummary } from '../../users/repository.js';
import { actingAs, audit, cursor, describeEvent, listEvents } from '../audit.js';
import type { AppDeps } from '../deps.js';
import { badInput } from '../errors.js';
import { adminProcedure, router } from '../procedures.js';
import { sessionId, userId } from './inputs.js';

/** A user as the admin console shows them: never the hash or the TOTP secret. */
export const adminUser = (u: UserSummary) => ({
  ...publicUser(u),
  disabled: u.disabledAt !== null,
  disabledAt: u.disabledAt,
  createdAt: u.createdAt,
  passwordChangedAt: u.passwordChangedAt,
});

const notFound = () => new TRPCError({ code: 'NOT_FOUND', message: 'No such user' });

// -- users list cursor: base64url JSON of the last row's key -------------------------------------

const encodeUserCursor = (key: UserKey) =>
  Buffer.from(JSON.stringify({ e: key.email, i: key.id })).toString('base64url');

function decodeUserCursor(value: string): UserKey {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
  } catch {
    throw badInput('cursor', 'Invalid cursor');
  }
  const { e, i } = (parsed ?? {}) as { e?: unknown; i?: unknown };
  if (
    typeof e !== 'string' ||
    typeof i !== 'string' ||
    e.length > 1024 ||
    i.length > 64 ||
    /\p{Cc}/u.test(e + i)
  )
    throw badInput('cursor', 'Invalid cursor');
  return { email: e, id: i };
}

/** An email prefix: trimmed, case-insensitive; LIKE's own characters are matched literally. */
const emailQuery = z
  .string()
  .trim()
  .max(254)
  .refine((s) => !/\p{Cc}/u.test(s), 'The search contains a control character');

/**
 * Disables an account (every session ends, reason `account_disabled`, on every instance: the
 * session-ended events go out on the event bus) or enables it again. Shared by admin.setDisabled and
 * the CLI (`users disable|enable`). Refuses (CONFLICT) to disable the last enabled administrator.
 *
 * Crash-safe order, as auth.changePassword and setRole keep it: the sessions end before the
 * account is marked disabled and again after, so a process killed in between leaves an enabled
 * account without its sessions (disable again) or a disabled one without them - never a disabled
 * account with a session still signed in. The pass after the write ends what a sign-in racing it
 * created meanwhile; issueSession re-reads the account for any later one.
 */
export async function setAccountDisabled(
  deps: Pick<AppDeps, 'users' | 'sessions' | 'audit' | 'clock'>,
  input: {
    target: User;
    disabled: boolean;
    /** Who does it: `actingAs(ctx)` of the administrator's request, or SYSTEM (the CLI). */
    actor: ActingContext;
  },
): Promise<{ user: User; sessionsEnded: number }> {
  const { users, sessions, audit, clock } = deps;
  const { target, actor } = input;
  const record = (type: 'account_disabled' | 'account_enabled') =>
    audit.record({
      type,
      userId: target.id,
      actor: attribute(actor, { userId: target.id, sessionId: null }),
      ip: actor.ip ?? null,
      userAgent: actor.userAgent ?? null,
      sessionId: null,
      reason: null,
    });
  if (!input.disabled) {
    const updated = await users.setDisabled(target.id, null);
    if (!updated) throw new AccountMissingError();
    if (target.disabledAt !== null) record('account_enabled');
    return { user: updated, sessionsEnded: 0 };
  }
  if (target.role === 'admin' && target.disabledAt === null && (await users.countEnabledAdmins()) <= 1) {
    throw new LastAdminError();
  }
  const endAll = () => sessions.revokeAll(target.id, { reason: 'account_disabled', context: actor });
  const early = await endAll();
  // Disabling twice keeps the first time.
  const updated = await users.setDisabled(target.id, target.disabledAt ?? clock());
  if (!updated) throw new AccountMissingError();
  const sessionsEnded = early + (await endAll());
  if (target.disabledAt === null) record('account_disabled');
  return { user: updated, sessionsEnded };
}

export class LastAdminError extends Error {
  constructor() {
    super('This is the last enabled administrator: promote or enable another one first.');
    this.name = 'LastAdminError';
  }
}

export class AccountMissingError extends Error {
  constructor() {
    super('No such user');
    this.name = 'AccountMissingError';
  }
}

export const adminRouter = router({
  /**
   * Users by email (ascending, case-insensitive), a page at a time: `query` keeps the emails that
   * start with it, `cursor` is the previous page's `nextCursor`. One database read per page (the
   * prefix index: users/repository.ts), whatever the page's depth; no session store call.
   */
  listUsers: adminProcedure
    .input(
      z
        .object({
          query: emailQuery.optional(),
          cursor: cursor.nullish(),
          limit: z.number().int().min(1).max(100).default(25),
        })
        .optional(),
    )
    .query(async ({ ctx, input }) => {
      const limit = input?.limit ?? 25;
      const after = input?.cursor ? decodeUserCursor(input.cursor) : null;
      const rows = await ctx.deps.users.list({ query: input?.query || null, after, limit: limit + 1 });
      const page = rows.slice(0, limit);
      const last = page[page.length - 1];
      return {
        users: page.map((u) => ({
          ...publicUser(u),
          disabled: u.disabledAt !== null,
          createdAt: u.createdAt,
        })),
        nextCursor: rows.length > limit && last ? encodeUserCursor(last.key) : null,
      };
    }),

  /** One user's page: the account, its live sessions (oldest first) and its 20 latest events. */
  getUser: adminProcedure.input(z.object({ userId })).query(async ({ ctx, input }) => {
    const { users, sessions, audit } = ctx.deps;
    const user = await users.findById(input.userId);
    if (!user) throw notFound();
    const [live, events] = await Promise.all([
      sessions.list(user.id),
      listEvents(audit, { userId: user.id, limit: 20 }),
    ]);
    return {
      user: adminUser(user),
      sessions: live.map((s) => ({
        id: s.id,
        createdAt: s.createdAt,
        lastActivityAt: s.lastActivityAt,
        ip: s.ip,
        userAgent: s.userAgent,
        ...describeUserAgent(s.userAgent),
        deviceBoundAt: s.deviceBoundAt,
      })),
      events: events.events.map(describeEvent),
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
      if (!target) throw notFound();
      if (
        target.role === 'admin' &&
        input.role !== 'admin' &&
        target.disabledAt === null &&
        (await users.countEnabledAdmins()) <= 1
      ) {
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
      if (!updated) throw notFound();
      const sessionsUpdated = await apply();
      if (target.role !== input.role) {
        audit(ctx, {
          type: 'role_changed',
          userId: target.id,
          detail: { from: target.role, to: input.role },
        });
      }
      log.info(
        { by: ctx.session.userId, userId: target.id, role: input.role, sessionsUpdated },
        'role changed',
      );
      return { user: publicUser(updated), sessionsUpdated };
    }),

  /** Ends one session of a user. `revoked` is false when it had already ended (or never existed). */
  revokeSession: adminProcedure.input(z.object({ userId, sessionId })).mutation(async ({ ctx, input }) => {
    const { users, sessions, log } = ctx.deps;
    if (input.sessionId === ctx.session.id) {
      throw new TRPCError({ code: 'BAD_REQUEST', message: 'Use auth.logout to end the current session.' });
    }
    const target = await users.findById(input.userId);
    if (!target) throw notFound();
    const revoked = await sessions.revoke(target.id, input.sessionId, { context: actingAs(ctx) });
    log.info({ by: ctx.session.userId, userId: target.id, revoked }, 'session revoked by an admin');
    return { revoked };
  }),

  /** Ends every session of a user (ASVS 5.0 7.4.5: administrators can terminate a user's sessions). */
  revokeUserSessions: adminProcedure.input(z.object({ userId })).mutation(async ({ ctx, input }) => {
    const { users, sessions, log } = ctx.deps;
    const target = await users.findById(input.userId);
    if (!target) throw notFound();
    const revoked = await sessions.revokeAll(target.id, { context: actingAs(ctx) });
    log.info({ by: ctx.session.userId, userId: target.id, revoked }, 'sessions revoked by an admin');
    return { revoked };
  }),

  /**
   * Disables an account (every session ends at once, on every instance; sign-in is refused after a
   * correct password) or enables it again. Not yourself, not the last enabled administrator.
   */
  setDisabled: adminProcedure
    .input(z.object({ userId, disabled: z.boolean() }))
    .mutation(async ({ ctx, input }) => {
      const target = await ctx.deps.users.findById(input.userId);
      if (!target) throw notFound();
      if (input.disabled && target.id === ctx.session.userId) {
        throw new TRPCError({ code: 'CONFLICT', message: 'You cannot disable your own account.' });
      }
      try {
        const { user, sessionsEnded } = await setAccountDisabled(ctx.deps, {
          target,
          disabled: input.disabled,
          actor: actingAs(ctx),
        });
        ctx.deps.log.info(
          { by: ctx.session.userId, userId: target.id, disabled: input.disabled, sessionsEnded },
          input.disabled ? 'account disabled' : 'account enabled',
        );
        return { user: adminUser(user), sessionsEnded };
      } catch (error) {
        if (error instanceof LastAdminError)
          throw new TRPCError({ code: 'CONFLICT', message: error.message });
        if (error instanceof AccountMissingError) throw notFound();
        throw error;
      }
    }),

  /**
   * Turns two-step verification off for a user who lost their authenticator: they sign in with
   * their password and may enroll again. Not for yourself: mfa.disable asks for a current code,
   * and the console must not be a way around it.
   */
  resetMfa: adminProcedure.input(z.object({ userId })).mutation(async ({ ctx, input }) => {
    const { users, sessions, log } = ctx.deps;
    const target = await users.findById(input.userId);
    if (!target) throw notFound();
    if (target.id === ctx.session.userId) {
      throw new TRPCError({
        code: 'CONFLICT',
        message: 'Turn off your own two-step verification from your Security page.',
      });
    }
    if (!target.mfaEnabled) return { user: adminUser(target) };
    await users.setMfa(target.id, null, null);
    // auth.me answers from the session: every session of the user learns that MFA is off.
    await sessions.updateUser(target.id, { mfaEnabled: false }, { rotate: false });
    audit(ctx, { type: 'mfa_disabled', userId: target.id });
    log.info({ by: ctx.session.userId, userId: target.id }, 'MFA reset by an admin');
    return { user: adminUser({ ...target, mfaEnabled: false }) };
  }),

  /**
   * Every event, newest first, filtered by type, user (id, or exact email) and time (`from`
   * inclusive, `to` exclusive, ms). Each event carries the emails of its user and its acting user
   * (one read per page) and the parsed device.
   */
  auditEvents: adminProcedure
    .input(
      z
        .object({
          types: z.array(z.enum(AUDIT_EVENT_TYPES)).max(AUDIT_EVENT_TYPES.length).optional(),
          userId: userId.optional(),
          email: emailQuery.optional(),
          from: z.number().int().min(0).optional(),
          to: z.number().int().min(0).optional(),
          cursor: cursor.nullish(),
          limit: z.number().int().min(1).max(100).default(50),
        })
        .optional(),
    )
    .query(async ({ ctx, input }) => {
      const { users } = ctx.deps;
      let forUser = input?.userId;
      if (input?.email) {
        const id = await users.idByEmail(input.email);
        // An unknown email, or one that isn't the user asked for: nothing matches.
        if (!id || (forUser !== undefined && forUser !== id)) return { events: [], nextCursor: null };
        forUser = id;
      }
      const page = await listEvents(ctx.deps.audit, {
        ...(forUser !== undefined ? { userId: forUser } : {}),
        ...(input?.types?.length ? { types: input.types } : {}),
        ...(input?.from !== undefined ? { from: input.from } : {}),
        ...(input?.to !== undefined ? { to: input.to } : {}),
        cursor: input?.cursor ?? null,
        limit: input?.limit ?? 50,
      });
      const ids = page.events.flatMap((e) => [e.userId, e.actor.userId]).filter((id) => id !== null);
      const emails = await users.emailsByIds(ids);
      return {
        events: page.events.map((e) => ({
          ...e,
          ...describeUserAgent(e.userAgent),
          userEmail: e.userId === null ? null : (emails.get(e.userId) ?? null),
          actorEmail: e.actor.userId === null ? null : (emails.get(e.actor.userId) ?? null),
        })),
        nextCursor: page.nextCursor,
      };
    }),
});
