/**
 * A small Hono app on @tessera/session-core: sign in, a protected route, list and revoke your sessions,
 * log out. Idle and absolute timeouts, the per-user limit and device binding (DBSC) come from the
 * manager's settings. The framework glue is the block marked below; everything else is an ordinary
 * Hono app.
 */

import { getConnInfo } from '@hono/node-server/conninfo';
import {
  readCookie,
  type Session,
  SessionLimitError,
  type SessionManager,
  SessionStoreError,
} from '@tessera/session-core';
import { getSession, handleDeviceBinding, serializeCookie } from '@tessera/session-core/web';
import { Hono } from 'hono';
import { createMiddleware } from 'hono/factory';
import type { AppSession } from './sessions.js';
import type { Users } from './users.js';

type Env = { Variables: { session: Session<AppSession>; token: string } };

export function createApp({ sessions, users }: { sessions: SessionManager<AppSession>; users: Users }) {
  const app = new Hono<Env>();

  // ---- glue: session-core <-> Hono ----
  // The DBSC endpoints (POST /dbsc/register, /dbsc/refresh) before the routes; null with binding off.
  app.use(async (c, next) => (await handleDeviceBinding(sessions, c.req.raw)) ?? next());
  /** A live session, or 401 with the reason (`missing`, `idle_timeout`, `revoked`, ...). */
  const requireSession = createMiddleware<Env>(async (c, next) => {
    const s = await getSession(sessions, c.req.raw); // throws SessionStoreError when the store is down
    if (s.setCookie) c.header('Set-Cookie', s.setCookie, { append: true }); // rotated, or clearing
    if (!s.session) return c.json({ reason: s.reason }, 401);
    c.set('session', s.session);
    c.set('token', s.token);
    await next();
  });
  app.onError((error, c) => {
    // Fail closed: a store that can't answer is a 503, never "signed out" and never "signed in".
    if (error instanceof SessionStoreError) return c.json({ error: 'session store unavailable' }, 503);
    if (error instanceof SessionLimitError)
      return c.json({ reason: 'session_limit', sessions: error.sessions }, 409);
    console.error(error);
    return c.json({ error: 'internal error' }, 500);
  });
  // ---- end of glue ----

  app.post('/login', async (c) => {
    const { email, password } = await c.req.json().catch(() => ({}));
    const user = await users.verify(email, password);
    if (!user) return c.json({ reason: 'invalid_credentials' }, 401);
    // Whatever session this browser carried ends first: sign-in always starts a new one (fixation).
    const carried = readCookie(c.req.header('cookie'), sessions.cookieName);
    if (carried.status === 'found') await sessions.logout(carried.value);
    const { session, cookie, registration } = await sessions.create({
      userId: user.id,
      data: { email: user.email },
      userAgent: c.req.header('user-agent') ?? null,
      ip: getConnInfo(c).remote.address ?? null,
    });
    c.header('Set-Cookie', serializeCookie(cookie), { append: true });
    if (registration) c.header('Secure-Session-Registration', registration); // the one chance to bind
    return c.json({ user, session: deadlines(session) });
  });

  app.get('/me', requireSession, (c) => {
    const session = c.get('session');
    return c.json({ user: { id: session.userId, email: session.data.email }, session: deadlines(session) });
  });

  app.get('/sessions', requireSession, async (c) => {
    const current = c.get('session');
    const mine = await sessions.list(current.userId);
    return c.json(
      mine.map((s) => ({
        id: s.id,
        current: s.id === current.id,
        createdAt: s.createdAt,
        lastActivityAt: s.lastActivityAt,
        userAgent: s.userAgent,
        ip: s.ip,
        deviceBoundAt: s.deviceBoundAt, // null unless the browser bound the session to its key (DBSC)
      })),
    );
  });

  app.delete('/sessions/:id', requireSession, async (c) => {
    const ended = await sessions.revoke(c.get('session').userId, c.req.param('id'));
    return ended ? c.body(null, 204) : c.json({ error: 'no such session' }, 404);
  });

  app.post('/logout', requireSession, async (c) => {
    const { cookie } = await sessions.logout(c.get('token'));
    c.header('Set-Cookie', serializeCookie(cookie), { append: true });
    const bound = sessions.deviceBinding?.blankCookie(); // the bound cookie too, when binding is on
    if (bound) c.header('Set-Cookie', serializeCookie(bound), { append: true });
    return c.json({ ok: true });
  });

  return app;
}

const deadlines = (s: Session<AppSession>) => ({
  id: s.id,
  idleExpiresAt: s.idleExpiresAt,
  absoluteExpiresAt: s.absoluteExpiresAt,
});
