/**
 * Who did it, told from the point of view of the account an event concerns ("you, on this device",
 * "you, on another device", "an administrator", "Tessera"). The caller says who acts (`actingAs(ctx)`
 * in trpc/audit.ts, or SYSTEM); this decides how that reads for the event's user, so the procedures
 * and compose.ts's session-event listener can't tell it differently.
 */
import type { SessionEvent } from '@tessera/session-core';
import { type ActingContext, SYSTEM } from './actor.js';
import type { Actor, AuditEventInput } from './events.js';

/**
 * The actor of an event about `target`, seen by `target.userId`:
 *  - the system stays the system; an actor with no user (the CLI as an operator) keeps its kind;
 *  - the same user: `self` when it is the very session the event is about (or the event is about no
 *    session: an MFA change, a password change), else `session` (another of their sessions);
 *  - a different user: `admin` (only administrators act on other people's accounts).
 */
export function attribute(acting: Actor, target: { userId: string | null; sessionId: string | null }): Actor {
  if (acting.kind === 'system') return SYSTEM;
  const actor = { kind: acting.kind, userId: acting.userId, sessionId: acting.sessionId };
  if (acting.userId === null) return actor;
  if (acting.userId !== target.userId) return { ...actor, kind: 'admin' };
  const sameSession = target.sessionId === null || target.sessionId === acting.sessionId;
  return { ...actor, kind: sameSession ? 'self' : 'session' };
}

/** session-core's events that end a session; `created` and `rotated` are not security events here. */
const ENDING: ReadonlySet<SessionEvent['type']> = new Set(['logged_out', 'revoked', 'evicted', 'expired']);

/**
 * The `session_ended` event for a session event, or null for one that ends nothing. `reason` is the
 * end reason (`logged_out`, `revoked`, `password_changed`, `account_disabled`, `evicted`,
 * `idle_timeout`, `absolute_timeout`). Who ended it:
 *  - a timeout (`expired`) and the session limit (`evicted`) are the system, whatever call found them;
 *  - a logout is the session itself: only its token can log it out;
 *  - a revoke is whoever the call's `context` says acted (`acting`), relative to the session's user.
 * IP and User-Agent are the acting request's; none for the system.
 */
export function sessionEndedEvent(event: SessionEvent, acting: ActingContext): AuditEventInput | null {
  if (!ENDING.has(event.type) || !event.reason) return null;
  const target = { userId: event.userId, sessionId: event.sessionId };
  let actor: Actor;
  if (event.type === 'expired' || event.type === 'evicted') actor = SYSTEM;
  else if (event.type === 'logged_out') actor = { kind: 'self', ...target };
  else actor = attribute(acting, target);
  const fromRequest = actor.kind !== 'system';
  return {
    type: 'session_ended',
    userId: event.userId,
    actor,
    ip: fromRequest ? (acting.ip ?? null) : null,
    userAgent: fromRequest ? (acting.userAgent ?? null) : null,
    sessionId: event.sessionId,
    reason: event.reason,
    at: event.at,
  };
}

/**
 * The audit event for session-core's device-binding (DBSC) events, or null for any other event:
 *  - `device_bound`: the session bound itself to a key on its device (detail `{ alg }`), its own act;
 *  - `device_proof_refused`: a proof presented with this session's cookie was refused (`reason`, also
 *    `detail.reason`: `foreign_key`, `bad_proof`, `already_bound`, `bad_challenge`). Whoever holds the
 *    cookie may not be the user, so the actor is Tessera, which refused it.
 * IP and User-Agent are the request's (http/dbsc-route.ts passes them as the call's `context`).
 */
export function deviceEvent(event: SessionEvent, from: ActingContext): AuditEventInput | null {
  const base = {
    userId: event.userId,
    ip: from.ip ?? null,
    userAgent: from.userAgent ?? null,
    sessionId: event.sessionId,
    at: event.at,
  };
  if (event.type === 'device_bound') {
    const actor: Actor = { kind: 'self', userId: event.userId, sessionId: event.sessionId };
    return { ...base, type: 'device_bound', actor, reason: null, detail: { alg: event.algorithm ?? null } };
  }
  if (event.type === 'device_refused') {
    const reason = event.refusal ?? null;
    return { ...base, type: 'device_proof_refused', actor: SYSTEM, reason, detail: { reason } };
  }
  return null;
}
