import type { SessionManager } from '@tessera/session-core';
import type { Logger } from 'pino';
import type { AuditLog } from '../audit/events.js';
import type { GrantStore } from '../auth/grants.js';
import type { Config } from '../env.js';
import type { CredentialCounter } from '../limits/credential-counter.js';
import type { RequestLimiter } from '../limits/request-limit.js';
import type { Metrics } from '../metrics/metrics.js';
import type { SessionEventBus } from '../sessions/event-bus.js';
import type { AppSessionData } from '../sessions/session-data.js';
import type { PasswordHasher } from '../users/passwords.js';
import type { UserRepository } from '../users/repository.js';

/**
 * What the procedures and the /trpc route use, built once by the composition root (compose.ts).
 * Connections, readiness checks and labels stay in compose.ts's Runtime: no procedure reads them.
 */
export interface AppDeps {
  config: Config;
  log: Logger;
  clock: () => number;
  users: UserRepository;
  passwords: PasswordHasher;
  sessions: SessionManager<AppSessionData>;
  grants: GrantStore;
  /** The counters behind the credential limit (RATE_LIMIT_AUTH_*): trpc/credential-limit.ts. */
  credentialCounter: CredentialCounter;
  /** The request limit on every /trpc call (RATE_LIMIT_REQUESTS_PER_MINUTE): limits/request-limit.ts. */
  requestLimit: RequestLimiter;
  events: SessionEventBus;
  /** The security events (Recent activity, the admin console's log): audit/audit-log.ts. */
  audit: AuditLog;
  /** Counters and histograms for METRICS_PORT (no-ops when it is unset). */
  metrics: Metrics;
}
