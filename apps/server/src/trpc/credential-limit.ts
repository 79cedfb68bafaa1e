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
 *
 * A refusal is recorded in the audit trail (`rate_limited`, reason `credential_ip` or
 * `credential_account`), once per limited key and window on each instance: a client hammering a
 * closed door must not turn each knock into a database write.
 */
import { createHash } from 'node:crypto';
import { clientKey } from '../limits/client-key.js';
import { audit } from './audit.js';
import type { Context } from './context.js';
import type { AppDeps } from './deps.js';
import { tooManyRequests } from './errors.js';

const accountKey = (email: string) =>
  `auth:acct:${createHash('sha256').update(email.trim().toLowerCase()).digest('base64url').slice(0, 32)}`;

function refuse(ctx: Context, retryAfterMs: number): never {
  ctx.response.headers.set('retry-after', String(Math.max(1, Math.ceil(retryAfterMs / 1000))));
  throw tooManyRequests(retryAfterMs);
}

/** Per composition (tests run several in one process): limited key -> when its window ends. */
const recorded = new WeakMap<AppDeps, Map<string, number>>();
const MAX_REMEMBERED = 10_000;

/** True the first time `key` is refused in its current window (on this instance). */
function firstRefusal(ctx: Context, key: string, retryAfterMs: number): boolean {
  const now = ctx.deps.clock();
  let seen = recorded.get(ctx.deps);
  if (!seen) {
    seen = new Map();
    recorded.set(ctx.deps, seen);
  }
  const until = seen.get(key);
  if (until !== undefined && until > now) return false;
  // Bounded: at worst a key is recorded twice in a window after a flood of others.
  if (seen.size >= MAX_REMEMBERED) seen.clear();
  seen.set(key, now + retryAfterMs);
  return true;
}

function recordRefusal(ctx: Context, reason: 'credential_ip' | 'credential_account', userId: string | null) {
  audit(ctx, { type: 'rate_limited', userId, reason });
}

export async function limitCredentialsByIp(ctx: Context): Promise<void> {
  const { credentialCounter, config } = ctx.deps;
  const hit = await credentialCounter.hit(
    `auth:ip:${clientKey(ctx.meta.ip)}`,
    config.rateLimit.authPerIp,
    config.rateLimit.windowMs,
  );
  if (!hit.allowed) {
    if (firstRefusal(ctx, `ip:${clientKey(ctx.meta.ip)}`, hit.retryAfterMs)) {
      recordRefusal(ctx, 'credential_ip', ctx.auth.session?.userId ?? null);
    }
    refuse(ctx, hit.retryAfterMs);
  }
}

/** `userId`: the account's, when the caller already knows it (else looked up when recording). */
export async function limitCredentialsByAccount(
  ctx: Context,
  email: string,
  userId?: string,
): Promise<{ succeeded(): Promise<void> }> {
  const { credentialCounter, config, log } = ctx.deps;
  const key = accountKey(email);
  const hit = await credentialCounter.hit(key, config.rateLimit.authPerAccount, config.rateLimit.windowMs);
  if (!hit.allowed) {
    // Give the hit back: an attempt refused up front must not extend the lockout.
    await credentialCounter.refund(key);
    if (firstRefusal(ctx, key, hit.retryAfterMs)) {
      // Named in the account's own activity ("someone is guessing your password"); an unknown email
      // is recorded without it.
      const id = userId ?? (await ctx.deps.users.idByEmail(email).catch(() => null));
      recordRefusal(ctx, 'credential_account', id);
    }
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
