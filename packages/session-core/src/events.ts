import type { EndReason } from './store.js';

/**
 * What happened to a session, for audit logs and live notifications. Events carry the public id only,
 * never a token. `ended` events: `revoked` (incl. reason `password_changed`), `evicted`, `expired`
 * (found past a deadline on access), `destroyed` (logout).
 */
export type SessionEventType = 'created' | 'rotated' | 'revoked' | 'evicted' | 'expired' | 'destroyed';

export interface SessionEvent {
  type: SessionEventType;
  sessionId: string;
  userId: string;
  /** Set for the events that end a session. */
  reason?: EndReason;
  /** ms since epoch, from the manager's clock. */
  at: number;
}

export type SessionEventListener = (event: SessionEvent) => void;

export function eventTypeFor(reason: EndReason): SessionEventType {
  switch (reason) {
    case 'evicted':
      return 'evicted';
    case 'idle_timeout':
    case 'absolute_timeout':
      return 'expired';
    case 'logged_out':
      return 'destroyed';
    default:
      return 'revoked';
  }
}
