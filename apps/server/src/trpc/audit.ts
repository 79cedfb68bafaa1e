/**
 * Recording security events from procedures (docs/SECURITY.md, "Audit trail"), and reading them
 * back (account.activity, the admin console: `cursor`, `listEvents`, `describeEvent`). Two helpers
 * record:
 *
 *   audit(ctx, { type, userId, ... })   records an event this procedure knows of (sign_in,
 *                                       sign_in_failed, mfa_enabled, role_changed, ...), with the
 *                                       request's IP and User-Agent. Queued: returns at once, never
 *                                       throws, costs the request no I/O.
 *   sessions.revoke(..., { context: actingAs(ctx) })
 *                                       the context of a call that ends sessions, so the
 *                                       session_ended events it causes (compose.ts records them,
 *                                       session-core hands the context back) name who ended them.
 *
 * Both take the caller as "self" (this session's user and session, or for a sign-in the person
 * signing in); how that reads for the account concerned (self, another of their sessions, an
 * administrator) is decided in one place, audit/attribution.ts.
 */
import { z } from 'zod';
import type { ActingContext } from '../audit/actor.js';
import { attribute } from '../audit/attribution.js';
import { InvalidAuditCursorError } from '../audit/audit-log.js';
import type {
  Actor,
  AuditEvent,
  AuditEventInput,
  AuditEventType,
  AuditLog,
  AuditPage,
  AuditQuery,
} from '../audit/events.js';
import { describeUserAgent } from '../sessions/user-agent.js';
import type { Context } from './context.js';
import { badInput } from './errors.js';

/** Events about signing in: the actor is the person signing in, whatever session the browser has. */
const SIGN_IN_TYPES: ReadonlySet<AuditEventType> = new Set(['sign_in', 'sign_in_failed', 'rate_limited']);

export interface AuditInput {
  type: AuditEventType;
  /** Whose account it concerns (null: a failed sign-in to an unknown email). */
  userId: string | null;
  /** See AuditEventInput.reason: an identifier (end reason, failure kind, limit name). */
  reason?: string | null;
  /** The session concerned (the one signed in, the one ended), when there is one. */
  sessionId?: string | null;
  /** Small, non-secret facts (role_changed: { from, to }); secret-looking keys are dropped. */
  detail?: AuditEventInput['detail'];
  /** Who did it, when not the caller as seen by the account concerned (the CLI passes SYSTEM). */
  actor?: Actor;
}

/**
 * Records a security event. The default actor is the caller, relative to `userId`: `self` for their
 * own account (`session` when `sessionId` is another of their sessions), `admin` for someone
 * else's; for sign-in events the person signing in (`self`), even if the browser still holds another
 * account's session.
 */
export function audit(ctx: Context, input: AuditInput): void {
  const target = { userId: input.userId, sessionId: input.sessionId ?? null };
  const session = ctx.auth.session;
  const actor =
    input.actor ??
    (session && !(SIGN_IN_TYPES.has(input.type) && session.userId !== input.userId)
      ? attribute(actingAs(ctx), target)
      : { kind: 'self' as const, ...target });
  ctx.deps.audit.record({
    type: input.type,
    userId: input.userId,
    actor,
    ip: ctx.meta.ip,
    userAgent: ctx.meta.userAgent,
    sessionId: target.sessionId,
    reason: input.reason ?? null,
    ...(input.detail ? { detail: input.detail } : {}),
  });
}

/**
 * The caller, as the `context` of a call that ends sessions: this session's user and id and the
 * request's IP and User-Agent. Without a session (resolving the session limit at sign-in), pass the
 * user signing in as `userId`. compose.ts turns it into self / session / admin per ended session.
 */
export function actingAs(ctx: Context, userId?: string): ActingContext {
  const session = ctx.auth.session;
  return {
    kind: 'self',
    userId: session?.userId ?? userId ?? null,
    sessionId: session?.id ?? null,
    ip: ctx.meta.ip,
    userAgent: ctx.meta.userAgent,
  };
}

/** A `nextCursor` handed back: opaque, base64url, bounded before anything parses it. */
export const cursor = z
  .string()
  .max(512)
  .regex(/^[A-Za-z0-9_-]*$/, 'Not a cursor');

/** A page of the audit trail; a cursor the log never handed out is the client's mistake (BAD_REQUEST). */
export async function listEvents(audit: AuditLog, query: AuditQuery): Promise<AuditPage> {
  try {
    return await audit.list(query);
  } catch (error) {
    if (error instanceof InvalidAuditCursorError) throw badInput('cursor', 'Invalid cursor');
    throw error;
  }
}

/**
 * An audit event as shown to someone who may not learn who else is involved: the actor is only its
 * kind (an administrator stays "an administrator", without an id or email), the device is parsed.
 */
export function describeEvent(e: AuditEvent) {
  return {
    id: e.id,
    type: e.type,
    at: e.at,
    reason: e.reason,
    ip: e.ip,
    userAgent: e.userAgent,
    ...describeUserAgent(e.userAgent),
    sessionId: e.sessionId,
    actor: { kind: e.actor.kind },
    detail: e.detail,
  };
}
