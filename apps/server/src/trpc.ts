/**
 * tRPC setup: the router factory and the four procedure builders, named after the guarantee they give.
 * The session itself was validated once per request in createContext (context.ts); the builders only
 * look at what it found, so they cost no I/O.
 */
import { initTRPC } from '@trpc/server';
import type { Context } from './context.js';
import type { AppSession, AppSessionData } from './deps.js';
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

/** Anyone: the session (if any) is in ctx but not required. */
export const publicProcedure = t.procedure;

/** A live session is required: UNAUTHORIZED with `data.reason` (missing, idle_timeout, revoked, ...) otherwise. */
export const authedProcedure = t.procedure.use(({ ctx, next }) => {
  if (!ctx.session || !ctx.token) throw unauthorized(ctx.noSession ?? 'missing');
  return next({ ctx: { session: ctx.session, token: ctx.token } });
});

/** Reads the session data the way the rest of the server expects it, whatever the store returned. */
export function sessionData(session: AppSession): AppSessionData {
  const d = session.data as Partial<AppSessionData>;
  const data: AppSessionData = {
    role: d.role === 'admin' ? 'admin' : 'user',
    authAt: typeof d.authAt === 'number' ? d.authAt : 0,
    mfa: d.mfa === true,
    mfaPending: typeof d.mfaPending === 'string' ? d.mfaPending : null,
  };
  if (typeof d.email === 'string') data.email = d.email;
  if (typeof d.mfaEnabled === 'boolean') data.mfaEnabled = d.mfaEnabled;
  return data;
}

/** Until when the session counts as fresh (the password was entered within FRESH_AUTH_WINDOW). */
export const freshUntil = (ctx: Context, session: AppSession) =>
  sessionData(session).authAt + ctx.deps.config.freshAuthWindowMs;

/**
 * A live session whose password was entered (sign-in or auth.reauthenticate) within the last
 * FRESH_AUTH_WINDOW: FORBIDDEN with `data.reason: 'reauthentication_required'` otherwise.
 * (ASVS 5.0 V7.5: re-authenticate before sensitive account changes.)
 */
export const freshProcedure = authedProcedure.use(({ ctx, next }) => {
  if (ctx.deps.clock() >= freshUntil(ctx, ctx.session)) {
    throw forbidden('reauthentication_required', 'Please enter your password again to continue.');
  }
  return next();
});

/**
 * A live session with the admin role. The role lives in the session and admin.setRole updates every
 * live session of the user at once, so a demotion applies on the very next request.
 */
export const adminProcedure = authedProcedure.use(({ ctx, next }) => {
  if (sessionData(ctx.session).role !== 'admin') throw forbidden('admin_required', 'Administrators only.');
  return next();
});
