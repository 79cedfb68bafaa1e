/**
 * The peer: what people would write instead of Tessera. Express 5 + express-session + connect-redis
 * on node-redis, all with their defaults except what a real app sets (a secret, no resave, no
 * uninitialized sessions, an HttpOnly SameSite=Lax cookie with a max age). Run as its own process by
 * the bench: `PORT=... REDIS_URL=... node dist/peer/app.js`.
 *
 *   GET  /public/me  the same JSON shape as /me, registered before the session middleware: no session work
 *   POST /login      {userId, role}: regenerate the session and store user id, role, user agent, IP
 *   GET  /me         user id and role from the session; 401 without one
 *
 * Per authenticated request express-session does GET (load) and, since the session is unchanged,
 * EXPIRE (touch): the two Redis commands of the reference point.
 */
import { randomBytes } from 'node:crypto';
import { RedisStore } from 'connect-redis';
import express from 'express';
import session from 'express-session';
import { createClient } from 'redis';

declare module 'express-session' {
  interface SessionData {
    userId: string;
    role: string;
    userAgent: string;
    ip: string;
  }
}

const port = Number(process.env.PORT);
const redisUrl = process.env.REDIS_URL;
if (!port || !redisUrl) throw new Error('PORT and REDIS_URL are required');

const client = createClient({ url: redisUrl });
client.on('error', (error: Error) => process.stderr.write(`peer redis: ${error.message}\n`));
await client.connect();

export const PEER_SESSION_TTL_S = 24 * 60 * 60;

const app = express();

app.get('/public/me', (_req, res) => {
  res.json({ userId: null, role: null });
});

app.use(
  session({
    store: new RedisStore({ client, prefix: 'sess:', ttl: PEER_SESSION_TTL_S }),
    secret: randomBytes(32).toString('hex'),
    name: 'sid',
    resave: false,
    saveUninitialized: false,
    cookie: { httpOnly: true, sameSite: 'lax', secure: false, maxAge: PEER_SESSION_TTL_S * 1000 },
  }),
);

app.post('/login', express.json(), (req, res, next) => {
  const { userId, role } = req.body as { userId?: string; role?: string };
  if (!userId) {
    res.status(400).json({ error: 'userId required' });
    return;
  }
  req.session.regenerate((error) => {
    if (error) return next(error);
    req.session.userId = userId;
    req.session.role = role ?? 'user';
    req.session.userAgent = req.get('user-agent') ?? '';
    req.session.ip = req.ip ?? '';
    req.session.save((saveError) => (saveError ? next(saveError) : res.json({ ok: true })));
  });
});

app.get('/me', (req, res) => {
  if (!req.session.userId) {
    res.status(401).json({ error: 'unauthorized' });
    return;
  }
  res.json({ userId: req.session.userId, role: req.session.role });
});

const server = app.listen(port, '127.0.0.1', () => process.stdout.write(`peer listening on ${port}\n`));
const stop = () => {
  server.close();
  void client.quit().finally(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
