/**
 * The coarse per-IP request limit on /trpc (RATE_LIMIT_REQUESTS_PER_MINUTE): a flood guard, not a
 * credential limit. It counts procedure calls (a batch of n costs n: http/batch-limit.ts) per
 * client key (an IPv6 client by its /64: client-key.ts). It runs on every API request, so the
 * decision is always taken in this process's memory: a Redis round trip per request would cost as
 * much server CPU as the session check itself. The credential limits (login, MFA, reauthentication,
 * password change: trpc/credential-limit.ts) stay exact in Redis or the database and fail closed.
 *
 * Alone, the count is per instance: N instances behind a balancer would let an address make up to
 * N x the limit. With a `sync` (Redis: request-limit-sync.ts), the instances share one count per
 * address without a round trip on the request path: each instance counts locally and, every
 * `syncEveryMs`, adds what it counted for each busy address to the shared counter and reads back
 * the total of all instances; an address is refused when this instance's count plus the others'
 * (as of the last sync) passes the limit. Addresses below `syncFrom` calls in their window on this
 * instance (every ordinary user) never cost a Redis call. The shared count is thereby exact to
 * within, per other instance, `syncFrom` calls plus what the address sent it in the last two sync
 * intervals, and never looser than per instance (each instance alone still stops at the limit).
 * When the sync fails (Redis down) the count falls back to per instance: this guards load, not
 * secrets, and Redis being down fails every session request closed anyway.
 *
 * A fixed window per address, starting at its first request (after a sync: the shared window, which
 * the first instance to sync started at the end of its own). The map is bounded: entries are kept in
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
  /** Counts `cost` calls (default 1) for `key`; allowed while the window's count stays within the limit. */
  hit(key: string, now: number, cost?: number): RequestLimitHit;
  /** Addresses currently tracked (for tests). */
  readonly size: number;
  /** Syncs now what is waiting (no-op without a sync); the timer calls it every `syncEveryMs`. */
  flush(): Promise<void>;
  /** Stops the sync timer. */
  close(): void;
}

/** The shared side of the count (Redis: request-limit-sync.ts). */
export interface RequestCountSync {
  /**
   * Adds `calls` to the shared count of `key`, whose window (if this call starts it) ends in
   * `windowLeftMs`; resolves to the shared total and the time left in the shared window.
   */
  add(key: string, calls: number, windowLeftMs: number): Promise<{ total: number; leftMs: number }>;
}

interface Window {
  /** Calls counted here in this window, refused ones included. */
  count: number;
  resetAt: number;
  /** Of `count`, how many were added to the shared count. */
  synced: number;
  /** Calls the other instances had added to the shared count, as of the last sync. */
  others: number;
}

export function memoryRequestLimiter(options: {
  max: number;
  windowMs: number;
  /** Most addresses tracked at once. Default 50,000 (a few MB). */
  maxKeys?: number;
  /** Share the count with other instances (see above). Default: none, the count is per instance. */
  sync?: RequestCountSync;
  /** How often to sync. Default 1 s. */
  syncEveryMs?: number;
  /** Calls in a window on this instance before an address is synced at all. Default 5% of `max`. */
  syncFrom?: number;
  /** A sync failed (reported once until one succeeds again). */
  onSyncError?: (error: unknown) => void;
  /** For the sync's timing, in the same ms as `hit`'s `now`. Default Date.now. */
  clock?: () => number;
}): RequestLimiter {
  const { max, windowMs, sync } = options;
  const clock = options.clock ?? Date.now;
  const maxKeys = Math.max(1, options.maxKeys ?? 50_000);
  const syncFrom = Math.max(1, options.syncFrom ?? Math.ceil(max / 20));
  const windows = new Map<string, Window>();
  /** Keys with calls to sync. */
  const pending = new Set<string>();

  /** Drops up to two finished windows from the front: amortised cleanup, O(1) per request. */
  const dropFinished = (now: number) => {
    for (let i = 0; i < 2; i++) {
      const first = windows.entries().next();
      if (first.done || first.value[1].resetAt > now) return;
      windows.delete(first.value[0]);
    }
  };

  const open = (key: string, now: number): Window => {
    windows.delete(key); // re-inserted below, at the back
    dropFinished(now);
    while (windows.size >= maxKeys) {
      const oldest = windows.keys().next();
      if (oldest.done) break;
      windows.delete(oldest.value);
    }
    const w: Window = { count: 0, resetAt: now + windowMs, synced: 0, others: 0 };
    windows.set(key, w);
    return w;
  };

  let failing = false;
  let flushing: Promise<void> | null = null;
  const syncOne = async (s: RequestCountSync, key: string) => {
    const w = windows.get(key);
    const sent = clock();
    // A finished window's calls no longer count anywhere: adding them could only inflate the next.
    if (w === undefined || w.resetAt <= sent) return;
    const calls = w.count - w.synced;
    if (calls <= 0) return;
    let shared: { total: number; leftMs: number };
    try {
      shared = await s.add(key, calls, Math.max(1, w.resetAt - sent));
    } catch (error) {
      if (windows.get(key) === w) pending.add(key); // try again next time
      if (!failing) options.onSyncError?.(error);
      failing = true;
      return;
    }
    failing = false;
    if (windows.get(key) !== w) return; // the window ended meanwhile
    w.synced += calls;
    w.others = Math.max(0, shared.total - w.synced);
    // Every instance ends the window when the shared counter does.
    if (shared.leftMs > 0) w.resetAt = sent + shared.leftMs;
  };

  const flush = async () => {
    // A sync in flight may have started before the latest calls: wait for it, then sync those.
    while (flushing) await flushing;
    if (!sync || pending.size === 0) return;
    const keys = [...pending];
    pending.clear();
    flushing = Promise.all(keys.map((key) => syncOne(sync, key))).then(() => {
      flushing = null;
    });
    return flushing;
  };

  const timer = sync ? setInterval(() => void flush(), options.syncEveryMs ?? 1_000) : null;
  timer?.unref();

  return {
    hit(key, now, cost = 1) {
      let w = windows.get(key);
      if (w === undefined || w.resetAt <= now) w = open(key, now);
      w.count += cost;
      const total = w.count + w.others;
      if (sync && total >= syncFrom) pending.add(key);
      return { allowed: total <= max, retryAfterMs: w.resetAt - now };
    },
    get size() {
      return windows.size;
    },
    flush,
    close() {
      if (timer) clearInterval(timer);
    },
  };
}
