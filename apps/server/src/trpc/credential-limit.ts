/**
 * The credential limit, applied by the procedures that check a password or a TOTP code (login,
 * verifyMfa, reauthenticate, changePassword, MFA enrollment and disable):
 *  - per client IP: every attempt counts (RATE_LIMIT_AUTH_PER_IP per RATE_LIMIT_WINDOW); an IPv6
 *    client is counted by its /64 (limits/client-key.ts);
 *  - per account: every attempt counts and a success takes its hit back, so the budget is spent by
 *    failures only (RATE_LIMIT_AUTH_PER_ACCOUNT per window). Keyed by a hash of the normalised email,
 *    so unknown accounts are limited alike and no email is stored in clear.
 * The counts live in Redis or the database (limits/credential-counter.ts) and fail closed.
 * (OWASP Authentication Cheat Sheet, "Protect against automated attacks"; ASVS 5.0 V6.3.1.)
 */
import { createHash } from 'node:crypto';
import { clientKey } from '../limits/client-key.js';
import type { Context } from './context.js';
import { tooManyRequests } from './errors.js';

const accountKey = (email: string) =>
  `auth:acct:${createHash('sha256').update(email.trim().toLowerCase()).digest('base64url').slice(0, 32)}`;

function refuse(ctx: Context, retryAfterMs: number): never {
  ctx.response.headers.set('retry-after', String(Math.max(1, Math.ceil(retryAfterMs / 1000))));
  throw tooManyRequests(retryAfterMs);
}

export async function limitCredentialsByIp(ctx: Context): Promise<void> {
  const { credentialCounter, config } = ctx.deps;
  const hit = await credentialCounter.hit(
    `auth:ip:${clientKey(ctx.meta.ip)}`,
    config.rateLimit.authPerIp,
    config.rateLimit.windowMs,
  );
  if (!hit.allowed) refuse(ctx, hit.retryAfterMs);
}

export async function limitCredentialsByAccount(
  ctx: Context,
  email: string,
): Promise<{ succeeded(): Promise<void> }> {
  const { credentialCounter, config, log } = ctx.deps;
  const key = accountKey(email);
  const hit = await credentialCounter.hit(key, config.rateLimit.authPerAccount, config.rateLimit.windowMs);
  if (!hit.allowed) {
    // Give the hit back: an attempt refused up front must not extend the lockout.
    await credentialCounter.refund(key);
    refuse(ctx, hit.retryAfterMs);
  }
  return {
    async succeeded() {
      await credentialCounter
        .refund(key)
        .catch((error: unknown) => log.warn({ err: error }, 'credential limit refund failed'));
    },
  };
}
