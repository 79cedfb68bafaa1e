/**
 * Who is acting, for the session events session-core emits deep inside a manager call (one
 * `revokeAll` ends many sessions, each an event). A procedure that ends sessions runs the call inside
 * `withActor`; compose.ts's onEvent reads `currentActor()` when it records `session_ended`. Outside
 * any `withActor` (a timeout seen on access, the limit evicting, a sweep) the actor is the system.
 * Only the ending calls pay for it: the request path (validate) never enters `withActor`.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Actor } from './events.js';

/**
 * The actor, plus where its request came from: the events the call causes are recorded with that IP
 * and User-Agent ("you, on Firefox on Linux"). trpc/audit.ts's `actingAs(ctx)` fills all of it.
 */
export interface ActingContext extends Actor {
  ip?: string | null;
  userAgent?: string | null;
}

const storage = new AsyncLocalStorage<ActingContext>();

export const SYSTEM: Actor = Object.freeze({ kind: 'system', userId: null, sessionId: null });

export function withActor<T>(actor: ActingContext, fn: () => Promise<T>): Promise<T> {
  return storage.run(actor, fn);
}

export function currentActor(): ActingContext {
  return storage.getStore() ?? SYSTEM;
}
