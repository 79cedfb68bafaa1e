import type { StoredSession } from './store.js';

/**
 * Stable error codes. "No session" is never an error (validate returns `{ session: null, reason }`);
 * these are for misuse (configuration, arguments), store failures (callers must fail closed), session
 * data that `parseData` refused (`INVALID_DATA`, the thrown error is the `cause`) and refusals.
 */
export type SessionErrorCode =
  | 'INVALID_OPTIONS'
  | 'INVALID_ARGUMENT'
  | 'INVALID_DATA'
  | 'STORE_UNAVAILABLE'
  | 'SESSION_LIMIT';

export class SessionError extends Error {
  readonly code: SessionErrorCode;
  constructor(code: SessionErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SessionError';
    this.code = code;
  }
}

/** Thrown at construction for nonsense options: a programming error, fix the call site. */
export class SessionConfigError extends SessionError {
  constructor(message: string) {
    super('INVALID_OPTIONS', message);
    this.name = 'SessionConfigError';
  }
}

/**
 * The store could not answer (down, timed out, bad reply). Never means "no session": a caller that
 * catches it must refuse the request (fail closed, HTTP 503), not treat the user as signed out.
 */
export class SessionStoreError extends SessionError {
  constructor(message: string, cause?: unknown) {
    super('STORE_UNAVAILABLE', message, { cause });
    this.name = 'SessionStoreError';
  }
}

/** A public view of a session, safe to show a user deciding which one to end. */
export interface ActiveSessionSummary {
  id: string;
  createdAt: number;
  lastActivityAt: number;
  userAgent: string | null;
  ip: string | null;
}

/** `create` under the `reject` policy when the user is at the limit. Lists the live sessions, never tokens. */
export class SessionLimitError extends SessionError {
  readonly limit: number;
  readonly sessions: ActiveSessionSummary[];
  constructor(limit: number, active: StoredSession[]) {
    super('SESSION_LIMIT', `session limit reached: at most ${limit} active sessions per user`);
    this.name = 'SessionLimitError';
    this.limit = limit;
    this.sessions = active.map(({ id, createdAt, lastActivityAt, userAgent, ip }) => ({
      id,
      createdAt,
      lastActivityAt,
      userAgent,
      ip,
    }));
  }
}

/** Wraps whatever a driver threw into a SessionStoreError (unless it already is a SessionError). */
export function storeFailure(store: string, operation: string, cause: unknown): SessionError {
  if (cause instanceof SessionError) return cause;
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new SessionStoreError(`${store} store: ${operation} failed: ${detail}`, cause);
}
