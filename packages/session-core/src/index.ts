/**
 * `@tessera/session-core`: what an app needs. Stores live in their own entries (`/redis`, `/postgres`,
 * `/pglite`, `/memory` for tests), the store contract suite in `/testing`. The types of the store
 * interface are here too, for stores written elsewhere (docs/write-your-own-store.md).
 */
export {
  blankCookie,
  type CookieAttributes,
  type CookieOptions,
  type CookieRead,
  readCookie,
  type SessionCookie,
  serializeCookie,
} from './cookie.js';
export { isBindableOrigin } from './dbsc/config.js';
export type {
  DeviceAnswer,
  DeviceAnswerOutcome,
  DeviceBinding,
} from './device-binding.js';
export { type Duration, parseDuration } from './durations.js';
export {
  type ActiveSessionSummary,
  SessionConfigError,
  SessionError,
  type SessionErrorCode,
  SessionLimitError,
  SessionStoreError,
} from './errors.js';
export type { DeviceRefusal, SessionEvent, SessionEventListener, SessionEventType } from './events.js';
export {
  type CreateInput,
  createSessionManager,
  type InvalidReason,
  type IssuedSession,
  type LogoutResult,
  type Session,
  type SessionManager,
  type ValidationResult,
} from './manager.js';
export type { DeviceBindingOptions, SessionManagerOptions } from './options.js';
export type {
  CreateOutcome,
  DeviceKey,
  DeviceOutcome,
  EndReason,
  NewSession,
  RevokeReason,
  SessionData,
  SessionLimit,
  SessionStore,
  StoreCall,
  StoredSecret,
  StoredSession,
  StoreMiss,
  StorePolicy,
  TokenCall,
  UserCall,
  ValidateOutcome,
} from './store.js';
