// sessions.ts: Tessera over the Redis connect-redis used (its keys are `sess:*`, Tessera's `tessera:*`)
import { createSessionManager } from '@tessera/session-core';
import { redisStore } from '@tessera/session-core/redis';
import { Redis } from 'ioredis';

export const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', {
  enableOfflineQueue: false,
  commandTimeout: 1_000,
  maxRetriesPerRequest: 1,
});
redis.on('error', (error) => console.error(`redis: ${error.message}`));

export const sessions = createSessionManager({
  store: redisStore({
    client: redis,
    tagSecret: Buffer.from(process.env.SESSION_TAG_SECRET ?? '', 'base64'),
  }),
  // express-session had one clock: the store's TTL, slid by every request (cookie.maxAge), never capped.
  // Tessera has two; choose both for your risk (OWASP ASVS 5.0 V7.3), e.g. a week idle, a month at most.
  idleTimeout: '7d',
  absoluteTimeout: '30d',
  // connect.sid had a maxAge, so it outlived the browser: keep that, or users are signed out on restart.
  cookie: { persistent: true },
});
