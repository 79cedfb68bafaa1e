import { z } from 'zod';
import { InvalidAuditCursorError } from '../../audit/audit-log.js';
import type { AuditEvent, AuditLog, AuditPage, AuditQuery } from '../../audit/events.js';
import { describeUserAgent } from '../../sessions/user-agent.js';
import { badInput } from '../errors.js';
import { authedProcedure, router } from '../procedures.js';

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

export const accountRouter = router({
  /**
   * This account's security events, newest first ("Recent activity": was that me?). `current` marks
   * the events of this very session, `actor.current` the ones this session did.
   */
  activity: authedProcedure
    .input(
      z
        .object({
          cursor: cursor.nullish(),
          limit: z.number().int().min(1).max(50).default(20),
        })
        .optional(),
    )
    .query(async ({ ctx, input }) => {
      const here = ctx.session.id;
      const page = await listEvents(ctx.deps.audit, {
        userId: ctx.session.userId,
        cursor: input?.cursor ?? null,
        limit: input?.limit ?? 20,
      });
      return {
        events: page.events.map((e) => {
          const shown = describeEvent(e);
          return {
            ...shown,
            current: e.sessionId !== null && e.sessionId === here,
            actor: {
              kind: shown.actor.kind,
              current: e.actor.sessionId !== null && e.actor.sessionId === here,
            },
          };
        }),
        nextCursor: page.nextCursor,
      };
    }),
});
