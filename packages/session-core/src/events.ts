import type { EndReason } from './store.js';

/**
 * What happened to a session, for audit logs and live notifications. Events carry the public id only,
 * never a token. The events that end a session: `logged_out` (logout), `revoked` (reason `revoked`,
 * `password_changed` or `account_disabled`), `evicted` (the per-user limit), `expired` (found past a
 * deadline on access).
 */
export type SessionEventType = 'created' | 'rotated' | 'logged_out' | 'revoked' | 'evicted' | 'expired';

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
