export {
  blankCookie,
  type CookieAttributes,
  type CookieOptions,
  type CookieRead,
  readCookie,
  type SessionCookie,
  serializeCookie,
} from './cookie.js';
export { type Duration, parseDuration } from './durations.js';
export {
  type ActiveSessionSummary,
  SessionConfigError,
  SessionError,
  type SessionErrorCode,
  SessionLimitError,
  SessionStoreError,
} from './errors.js';
export type { SessionEvent, SessionEventListener, SessionEventType } from './events.js';
export {
  type CreateInput,
  createSessionManager,
  type InvalidReason,
  type IssuedSession,
  type Session,
  type SessionManager,
  type ValidationResult,
} from './manager.js';
export type { SessionManagerOptions } from './options.js';
export { type Deadlines, deadlines, type Liveness, liveness } from './policy.js';
export type {
  CreateOutcome,
  EndReason,
  NewSession,
  SessionData,
  SessionLimit,
  SessionStore,
  StoredSession,
  StoreMiss,
  StorePolicy,
  ValidateOutcome,
} from './store.js';
export { constantTimeEqual, hashToken, isSessionId, parseToken } from './tokens.js';
