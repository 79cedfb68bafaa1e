/**
 * The Redis side of the shared request limit (request-limit.ts): one counter per client key at
 * `<prefix>rq:<key>`, which lives for one window. The instance whose sync creates it gives it the
 * time left in its own window; every instance reads back the total and the time left, so all of
 * them count the same window. Called once per sync interval per busy address, never per request.
 */
import type { Cluster, Redis } from 'ioredis';
import type { RequestCountSync } from './request-limit.js';

// INCRBY and the expiry in one script, so a counter never outlives its window.
const ADD = `local n = redis.call('INCRBY', KEYS[1], ARGV[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) ttl = tonumber(ARGV[2]) end
return {n, ttl}`;

export function redisRequestCountSync(client: Redis | Cluster, prefix = 'tessera:'): RequestCountSync {
  return {
    async add(key, calls, windowLeftMs) {
      const [total, leftMs] = (await client.eval(ADD, 1, `${prefix}rq:${key}`, calls, windowLeftMs)) as [
        number,
        number,
      ];
      return { total, leftMs };
    },
  };
}
