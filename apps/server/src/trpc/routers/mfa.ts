import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { matchTotp, newTotpSecret, otpauthUrl } from '../../auth/totp.js';
import { sessionData } from '../../sessions/session-data.js';
import { actingAs, audit } from '../audit.js';
import { limitCredentialsByAccount, limitCredentialsByIp } from '../credential-limit.js';
import { currentUser } from '../current-user.js';
import { forbidden, unauthorized } from '../errors.js';
import { freshProcedure, router } from '../procedures.js';
import { totpCode } from './inputs.js';

const factorChange = z.object({ code: totpCode, revokeOtherSessions: z.boolean().optional() });

/**
 * How long a pending enrollment (the secret shown by beginEnrollment) can be confirmed: long enough to
 * scan a QR code and type a code, short enough that a secret shown on a screen long ago can't be
 * turned into a factor later.
 */
export const ENROLLMENT_TTL_MS = 10 * 60_000;

const alreadyOn = () =>
  new TRPCError({ code: 'CONFLICT', message: 'Two-factor authentication is already on.' });

const invalidCode = () =>
  forbidden('invalid_code', 'That code is not valid. Check your authenticator app and try again.');

export const mfaRouter = router({
  /**
   * Starts TOTP enrollment: a new secret, held server-side in this session until confirmed. Show the
   * otpauth URL as a QR code (and the secret for manual entry).
   */
  beginEnrollment: freshProcedure.mutation(async ({ ctx }) => {
    const user = await currentUser(ctx);
    if (user.mfaSecret) throw alreadyOn();
    const secret = newTotpSecret();
    const updated = await ctx.deps.sessions.patch(ctx.token, {
      mfaPending: ctx.deps.users.sealPendingSecret(user.id, secret),
      mfaPendingUntil: ctx.deps.clock() + ENROLLMENT_TTL_MS,
    });
    if (!updated) throw unauthorized('unknown', 'This session ended');
    return { secret, otpauthUrl: otpauthUrl(secret, user.email) };
  }),

  /**
   * Proves the app has the secret: MFA turns on and the session rotates (a privilege change). With
   * `revokeOtherSessions`, every other session of the user ends too (ASVS 5.0 7.4.3). Needs a fresh
   * session, a pending enrollment younger than ENROLLMENT_TTL_MS, and MFA still off: a factor in
   * force is changed only by turning it off first (mfa.disable, which asks for a code of it).
   */
  confirmEnrollment: freshProcedure.input(factorChange).mutation(async ({ ctx, input }) => {
    const { users, sessions, clock, log } = ctx.deps;
    const data = sessionData(ctx.session);
    const pending =
      data.mfaPending && clock() < (data.mfaPendingUntil ?? 0)
        ? users.openPendingSecret(ctx.session.userId, data.mfaPending)
        : null;
    if (!pending) {
      throw new TRPCError({
        code: 'PRECONDITION_FAILED',
        message: 'Start the enrollment first (mfa.beginEnrollment), or again if it has expired.',
      });
    }
    await limitCredentialsByIp(ctx);
    const user = await currentUser(ctx);
    if (user.mfaSecret) throw alreadyOn();
    const account = await limitCredentialsByAccount(ctx, user.email, user.id);
    const step = matchTotp(pending, input.code, clock());
    if (step === null) throw invalidCode();
    await account.succeeded();
    // Crash-safe order (test/faults/crash.test.ts): the other sessions end before MFA turns on and
    // again after, so a process killed in between never leaves MFA on with the sessions the user
    // asked to end still signed in (the second pass ends what a racing sign-in made meanwhile;
    // issueSession refuses a password-only sign-in that finishes after MFA turned on).
    const revokeOthers = async () =>
      input.revokeOtherSessions
        ? await sessions.revokeAll(user.id, { except: ctx.session.id, context: actingAs(ctx) })
        : 0;
    const early = await revokeOthers();
    // Only if MFA is still off: of two sessions confirming at once, one factor wins and the other
    // request is refused (and ends no session beyond what the early pass did at its user's request).
    if (!(await users.enableMfa(user.id, pending, step))) throw alreadyOn();
    const revoked = early + (await revokeOthers());
    // auth.me answers from the session: every session of the user learns that MFA is on, and any
    // other pending enrollment is void now.
    const off = { mfaPending: null, mfaPendingUntil: 0 };
    await sessions.updateUser(user.id, { mfaEnabled: true, ...off }, { rotate: false });
    const rotated = await sessions.rotate(ctx.token, { ...off, mfa: true, mfaEnabled: true });
    if (rotated) ctx.auth.replace(rotated);
    audit(ctx, { type: 'mfa_enabled', userId: user.id, sessionId: ctx.session.id, detail: { revoked } });
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
    await limitCredentialsByIp(ctx);
    const account = await limitCredentialsByAccount(ctx, user.email, user.id);
    const step = matchTotp(user.mfaSecret, input.code, clock());
    if (step === null || !(await users.consumeTotpStep(user.id, step))) throw invalidCode();
    await account.succeeded();
    // Crash-safe order, as above: the sessions the user asked to end are gone before MFA is off.
    const revoked = input.revokeOtherSessions
      ? await sessions.revokeAll(user.id, { except: ctx.session.id, context: actingAs(ctx) })
      : 0;
    await users.setMfa(user.id, null, null);
    await sessions.updateUser(user.id, { mfaEnabled: false }, { rotate: false });
    await sessions.patch(ctx.token, { mfa: false, mfaEnabled: false });
    audit(ctx, { type: 'mfa_disabled', userId: user.id, sessionId: ctx.session.id, detail: { revoked } });
    log.info({ userId: user.id, sessionId: ctx.session.id, revoked }, 'MFA disabled');
    return { enabled: false, revoked };
  }),
});
