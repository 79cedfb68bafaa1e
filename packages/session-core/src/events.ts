import type { EndReason } from './store.js';

/**
 * What happened to a session, for audit logs and live notifications. Events carry the public id only,
 * never a token. The events that end a session: `logged_out` (logout), `revoked` (reason `revoked`,
 * `password_changed` or `account_disabled`), `evicted` (the per-user limit), `expired` (found past a
 * deadline on access).
 */
export type SessionEventType =
  | 'created'
  | 'rotated'
  | 'logged_out'
  | 'revoked'
  | 'evicted'
  | 'expired'
  /** The session bound to a device key (DBSC registration). */
  | 'device_bound'
  /** A DBSC proof for this session was refused (`refusal` says why). */
  | 'device_refused';

/**
 * Why a device proof was refused, for the audit trail. `foreign_key`: a well-formed refresh proof not
 * signed by the key the session bound (someone holding the cookies but not the device);
 * `bad_proof`: a registration proof that doesn't verify, or any proof malformed past parsing;
 * `already_bound`: a second registration; `bad_challenge`: a registration answering no live challenge.
 * A replayed or stale refresh proof is not an event: it is the ordinary race a new challenge settles.
 */
export type DeviceRefusal = 'foreign_key' | 'bad_proof' | 'already_bound' | 'bad_challenge';

export interface SessionEvent {
  type: SessionEventType;
  sessionId: string;
  userId: string;
  /** Set for the events that end a session. */
  reason?: EndReason;
  /** ms since epoch, from the manager's clock. */
  at: number;
  /**
   * What the call that caused the event passed as `context` (`logout`, `revoke`, `revokeAll`), as
   * given; absent on events no such call caused (a timeout seen by `validate`, an eviction).
   */
  context?: unknown;
  /** Set on `device_refused`. */
  refusal?: DeviceRefusal;
  /** Set on `device_bound`: the key's algorithm. */
  algorithm?: 'ES256' | 'RS256';
}

export type SessionEventListener = (event: SessionEvent) => void;

// No default branch: a new end reason must be given its event here, or this stops compiling.
export function eventTypeFor(reason: EndReason): SessionEventType {
  switch (reason) {
    case 'revoked':
    case 'password_changed':
    case 'account_disabled':
      return 'revoked';
    case 'evicted':
      return 'evicted';
    case 'idle_timeout':
    case 'absolute_timeout':
      return 'expired';
    case 'logged_out':
      return 'logged_out';
  }
}
