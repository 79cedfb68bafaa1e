/**
 * The fixed-window counters behind the credential limit (trpc/credential-limit.ts says what is
 * counted). Shared by every instance: in Redis when configured, else in the database. Fails
 * closed: when the backend can't count, the caller gets the error (a 503), not a pass.
 */
import type { Cluster, Redis } from 'ioredis';
import { type Database, toNumber } from '../infra/database.js';
import { redisCall } from '../infra/redis-call.js';

export interface HitResult {
  allowed: boolean;
  /** Hits in the current window, this one included. */
  hits: number;
  /** Until the window resets. */
  retryAfterMs: number;
}

export interface CredentialCounter {
  /** Counts one hit on `key` in a window of `windowMs`; allowed while hits <= limit. */
  hit(key: string, limit: number, windowMs: number): Promise<HitResult>;
  /** Takes one hit back, e.g. after a successful sign-in so it doesn't count as a failure. */
  refund(key: string): Promise<void>;
  /** Deletes finished windows where nothing else does (SQL). */
  sweep(now: number): Promise<number>;
}

// -- Redis: one string counter per key at `<prefix>rl:<key>`, with the window as its TTL. ---------

const HIT = `local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) ttl = tonumber(ARGV[1]) end
return {n, ttl}`;

const REFUND = `local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n > 0 then redis.call('DECR', KEYS[1]) end
return 1`;

export function redisCredentialCounter(client: Redis | Cluster, prefix = 'tessera:'): CredentialCounter {
  return {
    async hit(key, limit, windowMs) {
      const [hits, ttl] = (await redisCall('rate limit', () =>
        client.eval(HIT, 1, `${prefix}rl:${key}`, windowMs),
      )) as [number, number];
      return { allowed: hits <= limit, hits, retryAfterMs: Math.max(0, ttl) };
    },
    async refund(key) {
      await redisCall('rate limit refund', () => client.eval(REFUND, 1, `${prefix}rl:${key}`));
    },
    sweep: async () => 0,
  };
}

// -- SQL: one row per key; the upsert is atomic, so concurrent hits are all counted. ----------------

export function sqlCredentialCounter(db: Database, clock: () => number = Date.now): CredentialCounter {
  return {
    async hit(key, limit, windowMs) {
      const now = clock();
      const rows = await db.query(
        `INSERT INTO tessera_rate_limits AS r (key, hits, reset_at) VALUES ($1, 1, $2::bigint + $3::bigint)
         ON CONFLICT (key) DO UPDATE SET
           hits     = CASE WHEN r.reset_at <= $2::bigint THEN 1 ELSE r.hits + 1 END,
           reset_at = CASE WHEN r.reset_at <= $2::bigint THEN $2::bigint + $3::bigint ELSE r.reset_at END
         RETURNING hits, reset_at`,
        [key, now, windowMs],
      );
      const hits = toNumber(rows[0]?.hits);
      return { allowed: hits <= limit, hits, retryAfterMs: Math.max(0, toNumber(rows[0]?.reset_at) - now) };
    },
    async refund(key) {
      await db.query(
        'UPDATE tessera_rate_limits SET hits = hits - 1 WHERE key = $1 AND hits > 0 AND reset_at > $2',
        [key, clock()],
      );
    },
    async sweep(now) {
      const rows = await db.query('DELETE FROM tessera_rate_limits WHERE reset_at <= $1 RETURNING 1', [now]);
      return rows.length;
    },
  };
}
