import type { StorePolicy } from './store.js';

/**
 * The whole expiry policy, as a pure function of (record, now, policy). Two independent clocks:
 *  - idle: sliding, `lastActivityAt + idleMs`, pushed forward by every validated request;
 *  - absolute: fixed at login, `createdAt + absoluteMs`, never extended (not even by rotation).
 * A session is live while `now` is strictly before both deadlines: at the exact deadline it is expired.
 * Stores that check atomically (Lua, SQL) mirror exactly these comparisons; the contract suite tests
 * them at the boundaries.
 */
export type Liveness = 'live' | 'idle_timeout' | 'absolute_timeout';

export interface Deadlines {
  idleExpiresAt: number;
  absoluteExpiresAt: number;
}

export function deadlines(
  record: { createdAt: number; lastActivityAt: number },
  policy: Pick<StorePolicy, 'idleMs' | 'absoluteMs'>,
): Deadlines {
  const absoluteExpiresAt = record.createdAt + policy.absoluteMs;
  // The idle deadline can never lie beyond the absolute one: show the nearer of the two.
  const idleExpiresAt = Math.min(record.lastActivityAt + policy.idleMs, absoluteExpiresAt);
  return { idleExpiresAt, absoluteExpiresAt };
}

export function liveness(
  record: { createdAt: number; lastActivityAt: number },
  now: number,
  policy: Pick<StorePolicy, 'idleMs' | 'absoluteMs'>,
): Liveness {
  // Absolute first: when both have passed, the fixed deadline is the truer reason.
  if (now >= record.createdAt + policy.absoluteMs) return 'absolute_timeout';
  if (now >= record.lastActivityAt + policy.idleMs) return 'idle_timeout';
  return 'live';
}

/**
 * How long a store should keep a live record after `now`: until the nearer deadline, plus the
 * tombstone time so a late request still learns *why* it ended instead of "unknown".
 */
export function retentionMs(
  record: { createdAt: number; lastActivityAt: number },
  now: number,
  policy: StorePolicy,
): number {
  const { idleExpiresAt } = deadlines(record, policy);
  return Math.max(1, idleExpiresAt - now + policy.tombstoneMs);
}
