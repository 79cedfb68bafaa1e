/**
 * The steps every way of signing in shares (password, password + TOTP, or a session-limit ticket).
 */
import { type SessionCookie, SessionLimitError } from '@tessera/session-core';
import type { AppSessionData } from '../sessions/session-data.js';
import { describeUserAgent } from '../sessions/user-agent.js';
import { type PublicUser, publicUser, type User } from '../users/repository.js';
import { actingAs, audit } from './audit.js';
import { type Context, mfaCookieName } from './context.js';
import { forbidden, type LimitSession, sessionLimitConflict, unauthorized } from './errors.js';

export const MFA_CHALLENGE_TTL_MS = 10 * 60_000;
export const MFA_CHALLENGE_ATTEMPTS = 5;
export const LIMIT_TICKET_TTL_MS = 5 * 60_000;
/** The DBSC offer on a sign-in response (its value is session-core's `IssuedSession.registration`). */
export const REGISTRATION_HEADER = 'Secure-Session-Registration';

export type SignInResult =
  | { status: 'signed_in'; user: PublicUser }
  /** A TOTP code is due: the challenge ends at `expiresAt` (ms) or after `attemptsLeft` wrong codes. */
  | { status: 'mfa_required'; expiresAt: number; attemptsLeft: number };

/** What a partial sign-in (MFA challenge, limit ticket) remembers until it completes. */
export interface PendingSignIn {
  /** When the password was verified (becomes the session's authAt). */
  authAt: number;
  mfa: boolean;
  /** The user's passwordChangedAt then: a password change in between voids the grant. */
  passwordChangedAt: number;
}

export const readPending = (payload: Record<string, unknown>): PendingSignIn => ({
  authAt: Number(payload.authAt) || 0,
  mfa: payload.mfa === true,
  passwordChangedAt: Number(payload.passwordChangedAt) || 0,
});

/**
 * Session fixation defence (OWASP Session Management Cheat Sheet, "Renew the Session ID After Any
 * Privilege Level Change"): whatever session the request carried ends before a new one is issued.
 */
export async function endPresentedSession(ctx: Context): Promise<void> {
  const presented = ctx.auth.presented;
  if (!presented) return;
  const { cookie } = await ctx.deps.sessions.logout(presented, { context: actingAs(ctx) });
  ctx.auth.replace({ ended: 'logged_out', cookie });
}

/**
 * The refusal of a sign-in to a disabled account, recorded as a failed sign-in. Only ever thrown once
 * the password was right: a wrong one gets the generic `invalid_credentials`, so whoever doesn't know
 * the password learns nothing about the account (not even that it exists).
 */
export function accountDisabled(ctx: Context, userId: string) {
  audit(ctx, { type: 'sign_in_failed', userId, reason: 'account_disabled' });
  return forbidden('account_disabled', 'This account is disabled. Contact your administrator.');
}

export function setMfaChallengeCookie(ctx: Context, token: string | null): void {
  const secure = ctx.deps.config.cookieSecure;
  const cookie: SessionCookie = {
    name: mfaCookieName(secure),
    value: token ?? '',
    attributes: {
      httpOnly: true,
      secure,
      // Only ever needed by the SPA's own verifyMfa call.
      sameSite: 'strict',
      path: '/',
      maxAge: token ? Math.floor(MFA_CHALLENGE_TTL_MS / 1000) : 0,
    },
  };
  ctx.response.cookies.set(cookie.name, cookie);
  ctx.mfaChallenge = token;
}

const limitSession = (s: {
  id: string;
  createdAt: number;
  lastActivityAt: number;
  userAgent: string | null;
  ip: string | null;
}): LimitSession => ({ ...s, ...describeUserAgent(s.userAgent) });

/**
 * Issues the session after every factor passed. At the limit under the `reject` policy, throws
 * CONFLICT with the live sessions and a single-use ticket (auth.resolveSessionLimit).
 *
 * A password or role change can commit while this sign-in is still verifying: it ends (or updates)
 * every session that exists at that moment, but not this one, created a moment later from what was
 * read before. So once the session exists the user is read again: a password changed since it was
 * verified (or MFA turned on after a password-only sign-in) ends the new session (UNAUTHORIZED, as
 * for a wrong password), an account disabled since then ends it too (FORBIDDEN `account_disabled`),
 * and a role changed since then is applied to it. (test/races/revocation.test.ts: sign-ins racing a password change or a
 * demotion.)
 */
export async function issueSession(ctx: Context, user: User, pending: PendingSignIn): Promise<SignInResult> {
  const { sessions, grants, users, log } = ctx.deps;
  // email and mfaEnabled ride along so that auth.me answers from the session alone (no users read).
  const data: AppSessionData = {
    role: user.role,
    authAt: pending.authAt,
    mfa: pending.mfa,
    email: user.email,
    mfaEnabled: user.mfaSecret !== null,
  };
  let issued: Awaited<ReturnType<typeof sessions.create>>;
  try {
    issued = await sessions.create({
      userId: user.id,
      data,
      userAgent: ctx.meta.userAgent,
      ip: ctx.meta.ip,
    });
  } catch (error) {
    if (!(error instanceof SessionLimitError)) throw error;
    const ticket = await grants.issue('limit', {
      userId: user.id,
      payload: { ...pending, passwordChangedAt: user.passwordChangedAt },
      ttlMs: LIMIT_TICKET_TTL_MS,
      maxAttempts: 1,
    });
    log.info({ userId: user.id, limit: error.limit }, 'sign-in refused: session limit (ticket issued)');
    throw sessionLimitConflict({ limit: error.limit, sessions: error.sessions.map(limitSession), ticket });
  }

  let session = issued.session;
  let current: User | null;
  try {
    current = await users.findById(user.id);
    if (
      current &&
      current.passwordChangedAt === pending.passwordChangedAt &&
      (current.role !== data.role || (current.mfaSecret !== null) !== data.mfaEnabled)
    ) {
      session =
        (await sessions.patch(issued.token, {
          role: current.role,
          mfaEnabled: current.mfaSecret !== null,
        })) ?? session;
    }
  } catch (error) {
    await sessions.logout(issued.token).catch(() => undefined);
    throw error;
  }
  if (
    !current ||
    current.passwordChangedAt !== pending.passwordChangedAt ||
    (current.mfaSecret && !pending.mfa)
  ) {
    await sessions.logout(issued.token);
    log.info({ userId: user.id }, 'sign-in refused: the password or MFA changed while it was verified');
    throw unauthorized('invalid_credentials', 'Invalid email or password');
  }
  if (current.disabledAt !== null) {
    // Disabled while this sign-in was verifying: admin.setDisabled ended every session that existed
    // then, not this one.
    await sessions.revoke(user.id, session.id, { reason: 'account_disabled' });
    log.info({ userId: user.id }, 'sign-in refused: the account was disabled while it was verified');
    throw accountDisabled(ctx, user.id);
  }
  ctx.auth.replace({ session, token: issued.token, cookie: issued.cookie });
  // DBSC on: the one offer this session gets to bind to the browser's device key, on the response
  // that creates it (never on a rotation, never later: docs/DBSC.md §4.5). Browsers without DBSC
  // ignore it.
  if (issued.registration) ctx.response.headers.set(REGISTRATION_HEADER, issued.registration);
  audit(ctx, { type: 'sign_in', userId: user.id, sessionId: session.id, detail: { mfa: pending.mfa } });
  return { status: 'signed_in', user: publicUser(current) };
}
