/**
 * Entry point: `npm start`. The only file that reads the environment. Settings:
 *   PORT (3000), DATA_DIR (.data/pglite), REDIS_URL + SESSION_TAG_SECRET (Redis instead of PGlite),
 *   IDLE_TIMEOUT (30m), ABSOLUTE_TIMEOUT (24h), MAX_SESSIONS (3), COOKIE_SECURE (true),
 *   APP_ORIGIN (http://localhost:PORT; the origin browsers see, for device-bound sessions),
 *   DBSC (on; `off` turns device binding off, e.g. for plain HTTP on a host other than localhost),
 *   DEMO_EMAIL / DEMO_PASSWORD (the one account; a random password is printed when unset).
 */
import { randomBytes } from 'node:crypto';
import { serve } from '@hono/node-server';
import { createApp } from './app.js';
import { openSessions } from './sessions.js';
import { createUsers } from './users.js';

const env = process.env;
const email = env.DEMO_EMAIL ?? 'demo@example.com';
const password = env.DEMO_PASSWORD ?? randomBytes(12).toString('base64url');
const users = await createUsers([{ email, password }]);
const port = Number(env.PORT ?? 3000);
const opened = await openSessions({
  idleTimeout: env.IDLE_TIMEOUT ?? '30m',
  absoluteTimeout: env.ABSOLUTE_TIMEOUT ?? '24h',
  maxSessionsPerUser: Number(env.MAX_SESSIONS ?? 3),
  secureCookie: env.COOKIE_SECURE !== 'false',
  dataDir: env.DATA_DIR ?? '.data/pglite',
  ...(env.REDIS_URL ? { redisUrl: env.REDIS_URL } : {}),
  ...(env.SESSION_TAG_SECRET ? { tagSecret: Buffer.from(env.SESSION_TAG_SECRET, 'base64') } : {}),
  ...(env.DBSC === 'off' ? {} : { deviceBinding: { origin: env.APP_ORIGIN ?? `http://localhost:${port}` } }),
});
const server = serve({ fetch: createApp({ ...opened, users }).fetch, port }, () => {
  console.log(`http://localhost:${port} (sessions in ${opened.store}); sign in as ${email}`);
  if (!env.DEMO_PASSWORD) console.log(`password (shown once): ${password}`);
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => server.close(() => void opened.close().then(() => process.exit(0))));
}
