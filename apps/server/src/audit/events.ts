/**
 * The security events Tessera keeps for "was that me?" (a person's Recent activity) and for
 * administrators (a user's page, the audit log). Written off the request path (audit/audit-log.ts);
 * never a token, a password, a TOTP secret or a code (docs/SECURITY.md, "Audit trail").
 */

export const AUDIT_EVENT_TYPES = [
  'sign_in',
  'sign_in_failed',
  'mfa_enabled',
  'mfa_disabled',
  'password_changed',
  'session_ended',
  'role_changed',
  'account_disabled',
  'account_enabled',
  'rate_limited',
  'device_bound',
  'device_proof_refused',
] as const;

export type AuditEventType = (typeof AUDIT_EVENT_TYPES)[number];

/**
 * Who did it, as the person whose account it is would say it:
 *  self     this very session (or, for a sign-in, the person signing in)
 *  session  another session of the same user (ended from the sessions page, say)
 *  admin    an administrator (`userId`, `sessionId`: theirs)
 *  system   Tessera itself: a timeout seen on access, the session limit, a sweep
 */
export type ActorKind = 'self' | 'session' | 'admin' | 'system';

export interface Actor {
  kind: ActorKind;
  /** The acting user (admin: the administrator), when there is one. */
  userId: string | null;
  /** The acting session's public id, when there is one. */
  sessionId: string | null;
}

/** What happened, as recorded. `detail` holds small, non-secret facts per type (see below). */
export interface AuditEventInput {
  type: AuditEventType;
  /** Whose account it concerns; null for a failed sign-in to an unknown email. */
  userId: string | null;
  actor: Actor;
  ip: string | null;
  /** Raw User-Agent (cut to 512 characters); parsed for display when read. */
  userAgent: string | null;
  /** The public id of the session concerned (signed in, ended), when there is one. */
  sessionId: string | null;
  /**
   * session_ended: why (logged_out, revoked, evicted, password_changed, idle_timeout,
   * absolute_timeout, account_disabled); sign_in_failed: 'password' | 'code' | 'account_disabled';
   * rate_limited: which limit ('credential_ip', 'credential_account'); device_proof_refused: what
   * was wrong ('foreign_key', 'bad_proof', 'already_bound', 'bad_challenge').
   */
  reason: string | null;
  /**
   * role_changed: { from, to }; device_bound: { alg } (ES256, RS256); device_proof_refused: { reason }.
   * Never a secret.
   */
  detail?: Record<string, string | number | boolean | null>;
  /** ms since epoch; default: the audit log's clock when recorded. */
  at?: number;
}

export interface AuditEvent extends Required<Omit<AuditEventInput, 'detail'>> {
  /** Opaque, increasing: the pagination cursor. */
  id: string;
  at: number;
  detail: Record<string, string | number | boolean | null>;
}

export interface AuditQuery {
  userId?: string;
  types?: AuditEventType[];
  /** Inclusive lower bound, ms. */
  from?: number;
  /** Exclusive upper bound, ms. */
  to?: number;
  /** From a previous page's `nextCursor`: events older than it. */
  cursor?: string | null;
  /** 1..100 */
  limit: number;
}

export interface AuditPage {
  /** Newest first. */
  events: AuditEvent[];
  nextCursor: string | null;
}

/** The audit trail as the rest of the server uses it. */
export interface AuditLog {
  /**
   * Queues an event and returns at once: never awaited on a request path, never throws. A write that
   * fails is retried; the action it records has already happened and stands (docs/SECURITY.md).
   */
  record(event: AuditEventInput): void;
  /** Newest first, filtered, keyset-paginated. Throws UnavailableError when the database is down. */
  list(query: AuditQuery): Promise<AuditPage>;
  /** Writes what is queued now (tests, shutdown). */
  flush(): Promise<void>;
  /** Deletes events older than the retention; returns how many. */
  prune(now: number): Promise<number>;
  /** Flushes and stops the writer. */
  close(): Promise<void>;
}
