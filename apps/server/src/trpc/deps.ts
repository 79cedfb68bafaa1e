import type { Session, SessionManager } from '@tessera/session-core';
import type { Logger } from 'pino';
import type { GrantStore } from './auth/grants.js';
import type { Database } from './db/database.js';
import type { Config } from './env.js';
import type { RateLimiter } from './security/limiter.js';
import type { RequestLimiter } from './security/request-limit.js';
import type { SessionEventBus } from './sessions/event-bus.js';
import type { PasswordHasher } from './users/passwords.js';
import type { Role, UserRepository } from './users/repository.js';

/** What a session carries besides its metadata. Read defensively: it comes back from a store as JSON. */
export type AppSessionData = {
  role: Role;
  /** When the user last proved knowledge of the password (sign-in or auth.reauthenticate), ms. */
  authAt: number;
  /** Whether a second factor was verified at sign-in. */
  mfa: boolean;
  /**
   * A TOTP secret awaiting confirmation (between mfa.beginEnrollment and mfa.confirmEnrollment),
   * sealed like the stored factor (users.sealPendingSecret): the session store is dumped too.
   */
  mfaPending?: string | null;
  /** When the pending secret stops being confirmable (ms); see mfa.beginEnrollment. */
  mfaPendingUntil?: number;
  /**
   * What auth.me returns besides the role, kept here so it needs no users read: the account's email
   * (it never changes) and whether MFA is on for the account (every session of the user is updated
   * when it changes). Absent in sessions issued before these fields existed: auth.me reads the user then.
   */
  email?: string;
  mfaEnabled?: boolean;
};

export type AppSession = Session<AppSessionData>;

/** Everything the routers and the HTTP layer need; built once by the composition root (compose.ts). */
export interface AppDeps {
  config: Config;
  log: Logger;
  clock: () => number;
  db: Database;
  users: UserRepository;
  passwords: PasswordHasher;
  sessions: SessionManager<AppSessionData>;
  grants: GrantStore;
  limiter: RateLimiter;
  /** The coarse per-IP limit on every /trpc call (in memory; shared through Redis when configured). */
  requests: RequestLimiter;
  events: SessionEventBus;
  /** Named checks for /readyz; each throws when its dependency can't answer. */
  readiness: Record<string, () => Promise<void>>;
  /** Human description of where sessions live, for the start banner and logs. */
  storeLabel: string;
  /** Shared Redis client when configured. */
  redis: import('ioredis').Redis | import('ioredis').Cluster | null;
}
