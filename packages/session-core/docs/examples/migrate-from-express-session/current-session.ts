// current-session.ts: the one call per request, which also moves a user still on express-session over
import type { IncomingMessage, ServerResponse } from 'node:http';
import { getSession, type SessionLookup, writeCookie } from '@tessera/session-core/node';
import { expressSessionMigration } from './express-session-migration.js';
import { redis, sessions } from './sessions.js';

export const migration = expressSessionMigration({
  sessions,
  redis, // the Redis connect-redis wrote to: here the same one
  secrets: (process.env.EXPRESS_SESSION_SECRETS ?? '').split(','), // express-session's `secret`, all
  maxAgeSeconds: 30 * 24 * 60 * 60, // express-session's cookie.maxAge was 30 days
});

/** Express: `res.locals.auth = await currentSession(req, res)` in a middleware (any node:http app alike). */
export async function currentSession(req: IncomingMessage, res: ServerResponse): Promise<SessionLookup> {
  const s = await getSession(sessions, req);
  writeCookie(res, s.setCookie);
  if (s.reason !== 'missing') return s; // a Tessera cookie, live or dead: the old one no longer counts
  const moved = await migration.migrate({
    cookie: req.headers.cookie,
    userAgent: req.headers['user-agent'],
    ip: req.socket.remoteAddress,
  });
  if (!moved) return s;
  for (const line of moved.setCookie) writeCookie(res, line);
  return { session: moved.session, reason: null, token: moved.token, setCookie: null };
}
