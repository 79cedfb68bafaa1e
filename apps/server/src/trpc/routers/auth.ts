import { z } from 'zod';
import { matchTotp } from '../../auth/totp.js';
import { sessionData } from '../../sessions/session-data.js';
import { checkPassword } from '../../users/password-policy.js';
import { publicUser, type User } from '../../users/repository.js';
import { actingAs, audit } from '../audit.js';
import type { Context } from '../context.js';
import { limitCredentialsByAccount, limitCredentialsByIp } from '../credential-limit.js';
import { currentUser } from '../current-user.js';
import { badInput, forbidden, unauthorized } from '../errors.js';
import { authedProcedure, freshUntil, publicProcedure, router } from '../procedures.js';
import {
  accountDisabled,
  endPresentedSession,
  issueSession,
  MFA_CHALLENGE_ATTEMPTS,
  MFA_CHALLENGE_TTL_MS,
  readPending,
  type SignInResult,
  setMfaChallengeCookie,
} from '../sign-in.js';
import { email, password, sessionId, totpCode } from './inputs.js';

const INVALID_CREDENTIALS = 'Invalid email or password';

/** Rehashes with the current parameters after a successful verification (never fails the request). */
function upgradeHashInBackground(ctx: Context, user: User, plain: string): void {
  const { passwords, users, log } = ctx.deps;
  if (!passwords.needsRehash(user.passwordHash)) return;
  void passwords
    .hash(plain)
    .then((next) => users.upgradeHash(user.id, user.passwordHash, next))
    .catch((error: unknown) => log.warn({ err: error, userId: user.id }, 'password rehash failed'));
}

export const authRouter = router({
  /**
   * Password sign-in. Whatever the outcome, the session the request carried ends first (fixation).
   * Every credential failure gets the same error, and unknown emails cost the same argon2 time.
   */
  login: publicProcedure
    .input(z.object({ email, password }))
    .mutation(async ({ ctx, input }): Promise<SignInResult> => {
      const { users, passwords, grants, clock, log } = ctx.deps;
      await limitCredentialsByIp(ctx);
      const account = await limitCredentialsByAccount(ctx, input.email);
      await endPresentedSession(ctx);
      if (ctx.mfaChallenge) {
        await grants.take('mfa', ctx.mfaChallenge);
        setMfaChallengeCookie(ctx, null);
      }
      const user = await users.findByEmail(input.email);
      const ok = user
        ? await passwords.verify(user.passwordHash, input.password)
        : await passwords.verifyDummy(input.password);
      if (!user || !ok) {
        log.info({ userId: user?.id, ip: ctx.meta.ip }, 'sign-in failed');
        // An unknown email is recorded without it (it may well be a password typed in the wrong field).
        audit(ctx, { type: 'sign_in_failed', userId: user?.id ?? null, reason: 'password' });
        throw unauthorized('invalid_credentials', INVALID_CREDENTIALS);
      }
      await account.succeeded();
      // After the password, before the second factor: the password already shows this is the account's
      // holder (or someone who has their password, who learns only that it can't be used), and a
      // disabled account isn't asked for a code that couldn't sign it in anyway.
      if (user.disabledAt !== null) throw accountDisabled(ctx, user.id);
      upgradeHashInBackground(ctx, user, input.password);
      const authAt = clock();
      if (user.mfaSecret) {
        const token = await grants.issue('mfa', {
          userId: user.id,
          payload: { authAt, mfa: true, passwordChangedAt: user.passwordChangedAt },
          ttlMs: MFA_CHALLENGE_TTL_MS,
          maxAttempts: MFA_CHALLENGE_ATTEMPTS,
        });
        setMfaChallengeCookie(ctx, token);
        return {
          status: 'mfa_required',
          expiresAt: authAt + MFA_CHALLENGE_TTL_MS,
          attemptsLeft: MFA_CHALLENGE_ATTEMPTS,
        };
      }
      return issueSession(ctx, user, { authAt, mfa: false, passwordChangedAt: user.passwordChangedAt });
    }),

  /** Second step of an MFA sign-in: the code from the authenticator app. The challenge dies on success. */
  verifyMfa: publicProcedure.input(z.object({ code: totpCode })).mutation(async ({ ctx, input }) => {
    const { users, grants, clock } = ctx.deps;
    await limitCredentialsByIp(ctx);
    const token = ctx.mfaChallenge;
    const invalid = () => {
      setMfaChallengeCookie(ctx, null);
      return unauthorized(
        'mfa_challenge_invalid',
        'This sign-in expired or had too many attempts. Please sign in again.',
      );
    };
    if (!token) throw invalid();
    const grant = await grants.attempt('mfa', token);
    if (!grant) throw invalid();
    const pending = readPending(grant.payload);
    const user = await users.findById(grant.userId);
    if (!user?.mfaSecret || user.passwordChangedAt !== pending.passwordChangedAt) {
      await grants.take('mfa', token);
      throw invalid();
    }
    if (user.disabledAt !== null) {
      await grants.take('mfa', token);
      setMfaChallengeCookie(ctx, null);
      throw accountDisabled(ctx, user.id);
    }
    const account = await limitCredentialsByAccount(ctx, user.email, user.id);
    const step = matchTotp(user.mfaSecret, input.code, clock());
    if (step === null || !(await users.consumeTotpStep(user.id, step))) {
      audit(ctx, { type: 'sign_in_failed', userId: user.id, reason: 'code' });
      throw unauthorized(
        'invalid_code',
        'That code is not valid. Check your authenticator app and try again.',
        { attemptsLeft: Math.max(0, MFA_CHALLENGE_ATTEMPTS - grant.attempts) },
      );
    }
    await account.succeeded();
    // Single use: of two parallel verifications with valid codes, one wins.
    if (!(await grants.take('mfa', token))) throw invalid();
    setMfaChallengeCookie(ctx, null);
    await endPresentedSession(ctx);
    return issueSession(ctx, user, { ...pending, mfa: true });
  }),

  /**
   * After a CONFLICT from the `reject` limit policy: ends the chosen session and signs in. The ticket
   * works once, for its user, for 5 minutes.
   */
  resolveSessionLimit: publicProcedure
    .input(z.object({ ticket: z.string().min(1).max(128), revokeSessionId: sessionId }))
    .mutation(async ({ ctx, input }) => {
      const { users, grants, sessions } = ctx.deps;
      const grant = await grants.take('limit', input.ticket);
      if (!grant) throw unauthorized('ticket_invalid', 'This choice expired. Please sign in again.');
      const pending = readPending(grant.payload);
      const user = await users.findById(grant.userId);
      if (!user || user.passwordChangedAt !== pending.passwordChangedAt) {
        throw unauthorized('ticket_invalid', 'This choice expired. Please sign in again.');
      }
      if (user.disabledAt !== null) throw accountDisabled(ctx, user.id);
      // Ended by the person signing in (whatever session this browser may hold of another account):
      // to the ended session, another of theirs.
      await sessions.revoke(user.id, input.revokeSessionId, {
        context: { ...actingAs(ctx), userId: user.id, sessionId: null },
      });
      await endPresentedSession(ctx);
      // If that session wasn't live any more and the user is still at the limit: a new ticket, CONFLICT.
      return issueSession(ctx, user, pending);
    }),

  /** Ends the session server-side and clears the cookie. Works (and clears) without a live session too. */
  logout: publicProcedure.mutation(async ({ ctx }) => {
    const presented = ctx.auth.presented;
    const { ended, cookie } = await ctx.deps.sessions.logout(presented, { context: actingAs(ctx) });
    ctx.auth.replace({ ended: 'logged_out', cookie });
    if (ctx.mfaChallenge) {
      await ctx.deps.grants.take('mfa', ctx.mfaChallenge);
      setMfaChallengeCookie(ctx, null);
    }
    return { ended };
  }),

  /**
   * Who is signed in, and the session's deadlines. UNAUTHORIZED with `data.reason` otherwise.
   * Served from the session alone (issueSession stores email and mfaEnabled in it, and every change of
   * role or MFA updates each session of the user): no users read on this, the SPA's most frequent call.
   * A session issued before those fields existed falls back to reading the user.
   */
  me: authedProcedure.query(async ({ ctx }) => {
    const s = ctx.session;
    const data = sessionData(s);
    const user =
      data.email !== undefined && data.mfaEnabled !== undefined
        ? { id: s.userId, email: data.email, role: data.role, mfaEnabled: data.mfaEnabled }
        : { ...publicUser(await currentUser(ctx)), role: data.role };
    return {
      user,
      session: {
        id: s.id,
        createdAt: s.createdAt,
        lastActivityAt: s.lastActivityAt,
        idleExpiresAt: s.idleExpiresAt,
        absoluteExpiresAt: s.absoluteExpiresAt,
        /** Until when sensitive actions work without auth.reauthenticate. */
        freshUntil: freshUntil(ctx, s),
        mfa: data.mfa,
      },
    };
  }),

  /** "Stay signed in": the validation in createContext already slid the idle deadline; report it. */
  ping: authedProcedure.mutation(({ ctx }) => ({
    idleExpiresAt: ctx.session.idleExpiresAt,
    absoluteExpiresAt: ctx.session.absoluteExpiresAt,
  })),

  /** Re-enter the password: the session rotates and counts as fresh for FRESH_AUTH_WINDOW. */
  reauthenticate: authedProcedure.input(z.object({ password })).mutation(async ({ ctx, input }) => {
    const { passwords, sessions, clock } = ctx.deps;
    await limitCredentialsByIp(ctx);
    const user = await currentUser(ctx);
    const account = await limitCredentialsByAccount(ctx, user.email, user.id);
    if (!(await passwords.verify(user.passwordHash, input.password))) {
      throw forbidden('invalid_credentials', 'Wrong password');
    }
    await account.succeeded();
    // A new token on re-authentication too (ASVS 5.0 7.2.4); id, createdAt and metadata stay.
    const rotated = await sessions.rotate(ctx.token, { authAt: clock() });
    if (!rotated) throw unauthorized('unknown', 'This session ended');
    ctx.auth.replace(rotated);
    return { freshUntil: freshUntil(ctx, rotated.session) };
  }),

  /**
   * New password (OWASP policy), then: this session rotates, every other session of the user ends
   * (reason `password_changed`). Returns how many ended.
   */
  changePassword: authedProcedure
    .input(z.object({ currentPassword: password, newPassword: z.string().max(1024) }))
    .mutation(async ({ ctx, input }) => {
      const { passwords, users, sessions, clock, log } = ctx.deps;
      await limitCredentialsByIp(ctx);
      const user = await currentUser(ctx);
      const account = await limitCredentialsByAccount(ctx, user.email, user.id);
      if (!(await passwords.verify(user.passwordHash, input.currentPassword))) {
        throw forbidden('invalid_credentials', 'Wrong current password');
      }
      await account.succeeded();
      const check = checkPassword(input.newPassword, { email: user.email });
      const problem = !check.ok
        ? check.problem
        : input.newPassword === input.currentPassword
          ? 'Choose a password different from the current one.'
          : null;
      if (problem) {
        throw badInput('newPassword', problem);
      }
      const hash = await passwords.hash(input.newPassword);
      const now = clock();
      // Crash-safe order (test/faults/crash.test.ts): end the other sessions, store the new password,
      // end them again. A process killed between two of these writes leaves the old password (and
      // perhaps fewer sessions) or the new one with every other session ended - never the new
      // password with the old sessions still signed in. The second pass ends what a sign-in racing
      // this change created meanwhile; issueSession re-checks the password for any later one.
      const others = { except: ctx.session.id, reason: 'password_changed' } as const;
      const endOthers = () => sessions.revokeAll(user.id, { ...others, context: actingAs(ctx) });
      const early = await endOthers();
      await users.setPassword(user.id, hash, now);
      const revoked = early + (await endOthers());
      const rotated = await sessions.rotate(ctx.token, { authAt: now });
      if (rotated) ctx.auth.replace(rotated);
      audit(ctx, {
        type: 'password_changed',
        userId: user.id,
        sessionId: ctx.session.id,
        detail: { revoked },
      });
      log.info({ userId: user.id, sessionId: ctx.session.id, revoked }, 'password changed');
      return { revoked };
    }),
});
