/**
 * Who is acting, for the session events session-core emits deep inside a manager call (one
 * `revokeAll` ends many sessions, each an event). A procedure that ends sessions passes
 * `{ context: actingAs(ctx) }` to the call (trpc/audit.ts); session-core hands that value back on
 * each event it emits (`SessionEvent.context`), and compose.ts's onEvent reads it with `actingOf`.
 * Events no call caused (a timeout seen on access, the limit evicting, a sweep) carry none: the
 * system. Nothing here touches the request path.
 */
import type { Actor, ActorKind } from './events.js';

/**
 * The actor, plus where its request came from: the events the call causes are recorded with that IP
 * and User-Agent ("you, on Firefox on Linux"). trpc/audit.ts's `actingAs(ctx)` fills all of it.
 */
export interface ActingContext extends Actor {
  ip?: string | null;
  userAgent?: string | null;
}

export const SYSTEM: Actor = Object.freeze({ kind: 'system', userId: null, sessionId: null });

const KINDS: ReadonlySet<ActorKind> = new Set(['self', 'session', 'admin', 'system']);
const text = (value: unknown): string | null => (typeof value === 'string' ? value : null);

/** The acting context a session event carries back, or SYSTEM when it carries none (or another value). */
export function actingOf(context: unknown): ActingContext {
  if (context === null || typeof context !== 'object') return SYSTEM;
  const c = context as Record<string, unknown>;
  if (!KINDS.has(c.kind as ActorKind)) return SYSTEM;
  return {
    kind: c.kind as ActorKind,
    userId: text(c.userId),
    sessionId: text(c.sessionId),
    ip: text(c.ip),
    userAgent: text(c.userAgent),
  };
}
