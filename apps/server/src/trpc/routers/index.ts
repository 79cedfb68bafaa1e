import { router } from '../procedures.js';
import { accountRouter } from './account.js';
import { adminRouter } from './admin.js';
import { authRouter } from './auth.js';
import { eventsRouter } from './events.js';
import { healthRouter } from './health.js';
import { mfaRouter } from './mfa.js';
import { sessionsRouter } from './sessions.js';

export const appRouter = router({
  auth: authRouter,
  mfa: mfaRouter,
  sessions: sessionsRouter,
  account: accountRouter,
  admin: adminRouter,
  events: eventsRouter,
  health: healthRouter,
});

/** The API's type, for clients (`import type { AppRouter } from '@tessera/server'`). */
export type AppRouter = typeof appRouter;
