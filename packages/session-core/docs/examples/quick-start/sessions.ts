// sessions.ts: the session manager, over Redis
import { createSessionManager } from '@tessera/session-core';
import { redisStore } from '@tessera/session-core/redis';
import { Redis } from 'ioredis';

// Fail fast while Redis is down (requests get 503) instead of queueing commands until it is back.
const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', {
  enableOfflineQueue: false,
  commandTimeout: 1_000,
  maxRetriesPerRequest: 1,
});
// Without a listener, every failed reconnect during an outage is an unhandled 'error' event.
redis.on('error', (error) => console.error(`redis: ${error.message}`));

export const sessions = createSessionManager({
  store: redisStore({
    client: redis,
    // Keys the user shard tag: >= 32 random bytes (`openssl rand -base64 32`), made once, the same on
    // every instance and across restarts.
    tagSecret: Buffer.from(process.env.SESSION_TAG_SECRET ?? '', 'base64'),
  }),
});
