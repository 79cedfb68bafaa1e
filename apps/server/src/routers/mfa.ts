import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { matchTotp, newTotpSecret, otpauthUrl } from '../auth/totp.js';
import type { Context } from '../context.js';
import { forbidden, unauthorized } from '../errors.js';
import { throttleAccount, throttleIp } from '../security/throttle.js';
import { authedProcedure, freshProcedure, router, sessionData } from '../trpc.js';
import type { User } from '../users/repository.js';
import { totpCode } from './inputs.js';

async function currentUser(ctx: Context & { session: NonNullable<Context['session']> }): Promise<User> {
  const user = await ctx.deps.users.findById(ctx.session.userId);
  if (!user) throw unauthorized('unknown', 'This account no longer exists');
  return user;
}

const factorChange = z.object({ code: totpCode, revokeOtherSessions: z.boolean().optional() });

const invalidCode = () =>
  forbidden('invalid_code', 'That code is not valid. Check your authenticator app and try again.');

export const mfaRouter = router({
  /**
   * Starts TOTP enrollment: a new secret, held server-side in this session until confirmed. Show the
   * otpauth URL as a QR code (and the secret for manual entry).
   */
  beginEnrollment: freshProcedure.mutation(async ({ ctx }) => {
    const user = await currentUser(ctx);
    if (user.mfaSecret)
      throw new TRPCError({ code: 'CONFLICT', message: 'Two-factor authentication is already on.' });
    const secret = newTotpSecret();
    const updated = await ctx.deps.sessions.patch(ctx.token, { mfaPending: secret });
    if (!updated) throw unauthorized('unknown', 'This session ended');
    return { secret, otpauthUrl: otpauthUrl(secret, user.email) };
  }),

  /**
   * Proves the app has the secret: MFA turns on and the session rotates (a privilege change). With
   * `revokeOtherSessions`, every other session of the user ends too (ASVS 5.0 7.4.3).
   */
  confirmEnrollment: authedProcedure.input(factorChange).mutation(async ({ ctx, input }) => {
    const { users, sessions, clock, log } = ctx.deps;
    const pending = sessionData(ctx.session).mfaPending;
    if (!pending) {
      throw new TRPCError({
        code: 'PRECONDITION_FAILED',
        message: 'Start the enrollment first (mfa.beginEnrollment).',
      });
    }
    await throttleIp(ctx);
    const user = await currentUser(ctx);
    const account = await throttleAccount(ctx, user.email);
    const step = matchTotp(pending, input.code, clock());
    if (step === null) throw invalidCode();
    await account.succeeded();
    // Crash-safe order (test/faults/crash.test.ts): the other sessions end before MFA turns on and
    // again after, so a process killed in between never leaves MFA on with the sessions the user
    // asked to end still signed in (the second pass ends what a racing sign-in made meanwhile;
    // issueSession refuses a password-only sign-in that finishes after MFA turned on).
    const revokeOthers = async () =>
      input.revokeOtherSessions ? await sessions.revokeAllExcept(user.id, ctx.session.id, 'revoked') : 0;
    const early = await revokeOthers();
    await users.setMfa(user.id, pending, step);
    const revoked = early + (await revokeOthers());
    // auth.me answers from the session: every session of the user learns that MFA is on.
    await sessions.updateUserSessions(user.id, { mfaEnabled: true }, { rotate: false });
    const rotated = await sessions.rotate(ctx.token, { mfaPending: null, mfa: true, mfaEnabled: true });
    if (rotated) ctx.response.cookies.set(rotated.cookie.name, rotated.cookie);
    log.info({ userId: user.id, sessionId: ctx.session.id, revoked }, 'MFA enabled');
    return { enabled: true, revoked };
  }),

  /** Turns MFA off; needs a fresh session and a current code. `revokeOtherSessions` as above. */
  disable: freshProcedure.input(factorChange).mutation(async ({ ctx, input }) => {
    const { users, sessions, clock, log } = ctx.deps;
    const user = await currentUser(ctx);
    if (!user.mfaSecret) {
      throw new TRPCError({ code: 'PRECONDITION_FAILED', message: 'Two-factor authentication is not on.' });
    }
    await throttleIp(ctx);
    const account = await throttleAccount(ctx, user.email);
    const step = matchTotp(user.mfaSecret, input.code, clock());
    if (step === null || !(await users.consumeTotpStep(user.id, step))) throw invalidCode();
    await account.succeeded();
    // Crash-safe order, as above: the sessions the user asked to end are gone before MFA is off.
    const revoked = input.revokeOtherSessions
      ? await sessions.revokeAllExcept(user.id, ctx.session.id, 'revoked')
      : 0;
    await users.setMfa(user.id, null, null);
    await sessions.updateUserSessions(user.id, { mfaEnabled: false }, { rotate: false });
    await sessions.patch(ctx.token, { mfa: false, mfaEnabled: false });
    log.info({ userId: user.id, sessionId: ctx.session.id, revoked }, 'MFA disabled');
    return { enabled: false, revoked };
  }),
});
