/**
 * The coarse per-IP request limit on /trpc (RATE_LIMIT_REQUESTS_PER_MINUTE), kept in this process's
 * memory: a flood guard, not a credential throttle. It runs on every API request, so it must not cost
 * a Redis round trip (that alone was as much server CPU as the session check). Per instance means N
 * instances behind a balancer let an address make up to N x the limit; that is fine for what it
 * guards (load, not secrets). The credential limits (login, MFA, reauthentication, password change:
 * security/throttle.ts) stay shared in Redis or the database and fail closed.
 *
 * A fixed window per address, starting at its first request. The map is bounded: entries are kept in
 * the order their windows started (a Map iterates in insertion order, and a renewed window is
 * re-inserted), so finished windows are dropped from the front as new ones arrive, and when the map
 * is full the oldest window is dropped to make room: under a flood of distinct addresses an early one
 * may start counting afresh, memory never grows past `maxKeys`.
 */

export interface RequestLimitHit {
  allowed: boolean;
  /** Until this address's window ends (for Retry-After). */
  retryAfterMs: number;
}

export interface RequestLimiter {
  hit(key: string, now: number): RequestLimitHit;
  /** Addresses currently tracked (for tests). */
  readonly size: number;
}

interface Window {
  count: number;
  resetAt: number;
}

export function memoryRequestLimiter(options: {
  max: number;
  windowMs: number;
  /** Most addresses tracked at once. Default 50,000 (a few MB). */
  maxKeys?: number;
}): RequestLimiter {
  const { max, windowMs } = options;
  const maxKeys = Math.max(1, options.maxKeys ?? 50_000);
  const windows = new Map<string, Window>();

  /** Drops up to two finished windows from the front: amortised cleanup, O(1) per request. */
  const dropFinished = (now: number) => {
    for (let i = 0; i < 2; i++) {
      const first = windows.entries().next();
      if (first.done || first.value[1].resetAt > now) return;
      windows.delete(first.value[0]);
    }
  };

  return {
    hit(key, now) {
      let w = windows.get(key);
      if (w !== undefined && w.resetAt > now) {
        w.count++;
        return { allowed: w.count <= max, retryAfterMs: w.resetAt - now };
      }
      if (w !== undefined) windows.delete(key); // re-inserted below, at the back
      dropFinished(now);
      while (windows.size >= maxKeys) {
        const oldest = windows.keys().next();
        if (oldest.done) break;
        windows.delete(oldest.value);
      }
      w = { count: 1, resetAt: now + windowMs };
      windows.set(key, w);
      return { allowed: 1 <= max, retryAfterMs: windowMs };
    },
    get size() {
      return windows.size;
    },
  };
}
