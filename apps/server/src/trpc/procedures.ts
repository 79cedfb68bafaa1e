/**
 * tRPC setup: the router factory and the four procedure builders, named after the guarantee they give.
 * The session itself was validated once per request in createContext (context.ts); the builders only
 * look at what it found, so they cost no I/O.
 */
import { initTRPC } from '@trpc/server';
import { type AppSession, sessionData } from '../sessions/session-data.js';
import type { Context } from './context.js';
import { forbidden, formatError, unauthorized } from './errors.js';

const t = initTRPC.context<Context>().create({
  // Plain JSON on the wire (no transformer): timestamps are ms numbers.
  errorFormatter: ({ shape, error, ctx }) =>
    formatError(shape, error, ctx?.deps.config.nodeEnv === 'development'),
  sse: {
    // Comments keep proxies from closing an idle event stream.
    ping: { enabled: true, intervalMs: 15_000 },
    client: { reconnectAfterInactivityMs: 20_000 },
  },
});

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;

/**
 * The guards, one per procedure (docs/SECURITY.md, "Procedure guards", is the table and
 * test/security/guards.test.ts checks every procedure of the router against it). Each guard is one
 * named middleware, so the test can read a procedure's guard from its middleware chain:
 *   public   anyone; the session (if any) is in ctx but not required
 *   session  a live session
 *   fresh    a live session whose password was entered within FRESH_AUTH_WINDOW
 *   admin    a live session with the admin role; on anything but a query also fresh ("admin + fresh"),
 *            so an admin mutation can't be added without the step-up (ASVS 5.0 7.5.3)
 */
export type Guard = 'public' | 'session' | 'fresh' | 'admin' | 'admin + fresh';

type Middleware = Parameters<typeof t.procedure.use>[0];

/** Marks a procedure as deliberately public: a procedure with no guard at all fails the guard test. */
const declaredPublic: Middleware = ({ next }) => next();

/**
 * UNAUTHORIZED with `data.reason` (missing, idle_timeout, revoked, ...) when there is no live session.
 * Procedures behind it read `ctx.session` and `ctx.token`: the session as this call began (tRPC runs
 * the calls of a batch concurrently, so each starts from what createContext found; a rotation inside
 * the call returns the new session, and `ctx.auth.replace` records it).
 */
const requireSession = t.middleware(({ ctx, next }) => {
  const { session, token } = ctx.auth;
  if (!session || !token) throw unauthorized(ctx.auth.reason ?? 'missing');
  return next({ ctx: { session, token } });
});

/** Until when the session counts as fresh (the password was entered within FRESH_AUTH_WINDOW). */
export const freshUntil = (ctx: Context, session: AppSession) =>
  sessionData(session).authAt + ctx.deps.config.freshAuthWindowMs;

/**
 * FORBIDDEN with `data.reason: 'reauthentication_required'` unless the password was entered (sign-in
 * or auth.reauthenticate) within the last FRESH_AUTH_WINDOW. (ASVS 5.0 V7.5: re-authenticate before
 * sensitive account changes.)
 */
function assertFresh(ctx: Context, session: AppSession): void {
  if (ctx.deps.clock() >= freshUntil(ctx, session)) {
    throw forbidden('reauthentication_required', 'Please enter your password again to continue.');
  }
}

const requireFresh = requireSession.unstable_pipe(({ ctx, next }) => {
  assertFresh(ctx, ctx.session);
  return next();
});

/**
 * The role lives in the session and admin.setRole updates every live session of the user at once, so
 * a demotion applies on the very next request. Reads are open to any live admin session (an admin
 * console must stay readable); everything else needs the fresh step-up as well.
 */
const requireAdmin = requireSession.unstable_pipe(({ ctx, type, next }) => {
  if (sessionData(ctx.session).role !== 'admin') throw forbidden('admin_required', 'Administrators only.');
  if (type !== 'query') assertFresh(ctx, ctx.session);
  return next();
});

export const publicProcedure = t.procedure.use(declaredPublic);
export const authedProcedure = t.procedure.use(requireSession);
export const freshProcedure = t.procedure.use(requireFresh);
export const adminProcedure = t.procedure.use(requireAdmin);

/** For test/security/guards.test.ts: which guard a middleware in a procedure's chain stands for. */
export const guardMiddlewares: ReadonlyMap<unknown, 'public' | 'session' | 'fresh' | 'admin'> = (() => {
  const named = new Map<unknown, 'public' | 'session' | 'fresh' | 'admin'>([[declaredPublic, 'public']]);
  const session = requireSession._middlewares;
  for (const m of session) named.set(m, 'session');
  for (const m of requireFresh._middlewares.slice(session.length)) named.set(m, 'fresh');
  for (const m of requireAdmin._middlewares.slice(session.length)) named.set(m, 'admin');
  return named;
})();
