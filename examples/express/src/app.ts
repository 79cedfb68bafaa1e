/**
 * A small Express 5 app on @tessera/session-core: sign in, a protected route, list and revoke your
 * sessions, log out. Idle and absolute timeouts, the per-user limit and device binding (DBSC) come from
 * the manager's settings. The framework glue is the block marked below; everything else is an ordinary
 * Express app.
 */
import {
  readCookie,
  type Session,
  SessionLimitError,
  type SessionManager,
  SessionStoreError,
} from '@tessera/session-core';
import { getSession, handleDeviceBinding, writeCookie } from '@tessera/session-core/node';
import express, { type ErrorRequestHandler, type RequestHandler } from 'express';
import type { AppSession } from './sessions.js';
import type { Users } from './users.js';

declare global {
  namespace Express {
    /** Set by `requireSession`: only read them in routes behind it. */
    interface Locals {
      session: Session<AppSession>;
      token: string;
    }
  }
}

export function createApp({ sessions, users }: { sessions: SessionManager<AppSession>; users: Users }) {
  const app = express();
  app.use(express.json({ limit: '10kb' }));

  // ---- glue: session-core <-> Express ----
  // The DBSC endpoints (POST /dbsc/register, /dbsc/refresh) before the routes; false with binding off.
  app.use(async (req, res, next) => ((await handleDeviceBinding(sessions, req, res)) ? undefined : next()));
  /** A live session, or 401 with the reason (`missing`, `idle_timeout`, `revoked`, ...). */
  const requireSession: RequestHandler = async (req, res, next) => {
    const s = await getSession(sessions, req); // throws SessionStoreError when the store is down
    writeCookie(res, s.setCookie); // rotated, or clearing a dead cookie; nothing when null
    if (!s.session) return void res.status(401).json({ reason: s.reason });
    res.locals.session = s.session;
    res.locals.token = s.token;
    next();
  };
  const sessionErrors: ErrorRequestHandler = (error, _req, res, next) => {
    // Fail closed: a store that can't answer is a 503, never "signed out" and never "signed in".
    if (error instanceof SessionStoreError)
      return void res.status(503).json({ error: 'session store unavailable' });
    if (error instanceof SessionLimitError)
      return void res.status(409).json({ reason: 'session_limit', sessions: error.sessions });
    next(error);
  };
  // ---- end of glue ----

  app.post('/login', async (req, res) => {
    const { email, password } = req.body ?? {};
    const user = await users.verify(email, password);
    if (!user) return void res.status(401).json({ reason: 'invalid_credentials' });
    // Whatever session this browser carried ends first: sign-in always starts a new one (fixation).
    const carried = readCookie(req.headers.cookie, sessions.cookieName);
    if (carried.status === 'found') await sessions.logout(carried.value);
    const { session, cookie, registration } = await sessions.create({
      userId: user.id,
      data: { email: user.email },
      userAgent: req.get('user-agent') ?? null,
      ip: req.ip ?? null,
    });
    writeCookie(res, cookie);
    if (registration) res.set('Secure-Session-Registration', registration); // the one chance to bind
    res.json({ user, session: deadlines(session) });
  });

  app.get('/me', requireSession, (_req, res) => {
    const { session } = res.locals;
    res.json({ user: { id: session.userId, email: session.data.email }, session: deadlines(session) });
  });

  app.get('/sessions', requireSession, async (_req, res) => {
    const current = res.locals.session;
    const mine = await sessions.list(current.userId);
    res.json(
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

  app.delete('/sessions/:id', requireSession, async (req, res) => {
    const ended = await sessions.revoke(res.locals.session.userId, String(req.params.id));
    if (ended) res.status(204).end();
    else res.status(404).json({ error: 'no such session' });
  });

  app.post('/logout', requireSession, async (_req, res) => {
    const { cookie } = await sessions.logout(res.locals.token);
    writeCookie(res, cookie);
    writeCookie(res, sessions.deviceBinding?.blankCookie()); // the bound cookie too, when binding is on
    res.json({ ok: true });
  });

  app.use(sessionErrors);
  return app;
}

const deadlines = (s: Session<AppSession>) => ({
  id: s.id,
  idleExpiresAt: s.idleExpiresAt,
  absoluteExpiresAt: s.absoluteExpiresAt,
});
