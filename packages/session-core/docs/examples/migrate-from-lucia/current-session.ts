// current-session.ts: the one call per request, which also moves a user still on Lucia over
import { getSession, type SessionLookup, writeCookie } from '@tessera/session-core/web';
import { luciaMigration } from './lucia-migration.js';
import { pool, sessions } from './sessions.js';

// Lucia's table 'user_session' and v3's cookie 'auth_session' (`cookieName: 'session'` for the token guide).
export const migration = luciaMigration({ sessions, db: pool });

/** Hono, Next.js route handlers, React Router, Bun, Deno: `headers` are the response's. */
export async function currentSession(request: Request, headers: Headers): Promise<SessionLookup> {
  const s = await getSession(sessions, request);
  writeCookie(headers, s.setCookie);
  if (s.reason !== 'missing') return s; // a Tessera cookie, live or dead: Lucia's no longer counts
  const moved = await migration.migrate({
    cookie: request.headers.get('cookie'),
    userAgent: request.headers.get('user-agent'),
  });
  if (!moved) return s;
  for (const line of moved.setCookie) writeCookie(headers, line);
  return { session: moved.session, reason: null, token: moved.token, setCookie: null };
}
