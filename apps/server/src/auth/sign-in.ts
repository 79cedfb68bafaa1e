/**
 * The steps every way of signing in shares (password, password + TOTP, or a session-limit ticket).
 */
import { type SessionCookie, SessionLimitError } from '@tessera/session-core';
import { type Context, mfaCookieName } from '../context.js';
import type { AppSessionData } from '../deps.js';
import { type LimitSession, sessionLimitConflict } from '../errors.js';
import { describeUserAgent } from '../sessions/user-agent.js';
import { type PublicUser, publicUser, type User } from '../users/repository.js';

export const MFA_CHALLENGE_TTL_MS = 10 * 60_000;
export const MFA_CHALLENGE_ATTEMPTS = 5;
export const LIMIT_TICKET_TTL_MS = 5 * 60_000;

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
  if (!ctx.presentedToken) return;
  const { cookie } = await ctx.deps.sessions.destroy(ctx.presentedToken);
  ctx.response.cookies.set(cookie.name, cookie);
  ctx.presentedToken = null;
  ctx.session = null;
  ctx.token = null;
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
 */
export async function issueSession(ctx: Context, user: User, pending: PendingSignIn): Promise<SignInResult> {
  const { sessions, grants, log } = ctx.deps;
  const data: AppSessionData = { role: user.role, authAt: pending.authAt, mfa: pending.mfa };
  try {
    const issued = await sessions.create({
      userId: user.id,
      data,
      userAgent: ctx.meta.userAgent,
      ip: ctx.meta.ip,
    });
    ctx.response.cookies.set(issued.cookie.name, issued.cookie);
    ctx.session = issued.session;
    ctx.token = issued.token;
    ctx.presentedToken = issued.token;
    ctx.noSession = null;
    return { status: 'signed_in', user: publicUser(user) };
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
}
