/**
 * The composition root: config -> clients -> stores -> session manager -> everything the routers
 * need. The only place that opens connections; `close()` ends them all. main.ts, the CLI and the
 * tests all compose through here.
 *
 *   users database   PostgreSQL (DATABASE_URL) | embedded PGlite in DATA_DIR (locked to one process)
 *   session store    Redis (REDIS_URL) | Redis Cluster (REDIS_CLUSTER_NODES) | the SQL database above
 *   grants, limits   same family as the session store (Redis, else the database); the per-IP request
 *                    limit counts in memory, shared through Redis when there is one
 *   audit trail      always the users database (audit/audit-log.ts), whatever holds the sessions
 */
import { join } from 'node:path';
// The drivers (PGlite, pg, ioredis) and their stores are imported where the configuration picks them
// (`await import`): a process loads only the ones it uses, which shortens every CLI call.
import type { PGlite } from '@electric-sql/pglite';
import { createSessionManager, type SessionStore } from '@tessera/session-core';
import type { Cluster, Redis } from 'ioredis';
import type pg from 'pg';
import type { Logger } from 'pino';
import { actingOf } from './audit/actor.js';
import { deviceEvent, sessionEndedEvent } from './audit/attribution.js';
import { sqlAuditLog } from './audit/audit-log.js';
import { refusalThrottle } from './audit/refusal-throttle.js';
import { type GrantStore, redisGrantStore, sqlGrantStore } from './auth/grants.js';
import { type TotpKeys, totpKeys } from './auth/totp-keys.js';
import { type DemoAccount, seedDemoUsers } from './demo.js';
import type { Config } from './env.js';
import { lockDataDir } from './infra/data-dir-lock.js';
import { type Database, pgliteDatabase, postgresDatabase } from './infra/database.js';
import { migrate } from './infra/migrations.js';
import { storedSecret } from './infra/server-secrets.js';
import {
  type CredentialCounter,
  redisCredentialCounter,
  sqlCredentialCounter,
} from './limits/credential-counter.js';
import { memoryRequestLimiter, type RequestCountSync } from './limits/request-limit.js';
import { redisRequestCountSync } from './limits/request-limit-sync.js';
import { createLogger } from './logger.js';
import { type Metrics, noMetrics } from './metrics/metrics.js';
import { localEventBus, redisEventBus, type SessionEventBus } from './sessions/event-bus.js';
import type { AppSessionData } from './sessions/session-data.js';
import type { AppDeps } from './trpc/deps.js';
import { type Argon2Params, OWASP_ARGON2, passwordHasher } from './users/passwords.js';
import { userRepository } from './users/repository.js';
import { assertTotpKeysPresent, sealPlaintextTotpSecrets } from './users/totp-secrets.js';

export interface ComposeOptions {
  /** Who runs: the lock message names it, and only a server sweeps and seeds demo users. Default 'server'. */
  role?: 'server' | 'cli';
  /** argon2id cost. Default OWASP's (m=19 MiB, t=2, p=1); tests inject a cheap one. */
  argon2?: Argon2Params;
  /** ms since epoch. Default Date.now. */
  clock?: () => number;
  /** Default: pino at config.logLevel on stdout. */
  logger?: Logger;
  /** Where the server counts (main.ts passes Prometheus when METRICS_PORT is set). Default: none. */
  metrics?: Metrics;
  /** Seed a demo admin and user into an empty embedded database. Default true for the server role. */
  demoUsers?: boolean;
  /**
   * Whether to open the session store and what comes with it (with Redis: its connection). Default
   * true. The CLI passes false for commands that touch no session (`users create`), so those need no
   * Redis; `deps.sessions`, `deps.grants` and `deps.credentialCounter` then reject every call.
   */
  sessions?: boolean;
  /**
   * How often to delete dead rows (SQL sessions, grants, rate-limit windows) and audit events older
   * than AUDIT_RETENTION. Default 10 min.
   */
  sweepIntervalMs?: number;
  /** Redis key prefix for everything the server stores. Default 'tessera:'. */
  redisPrefix?: string;
  /** How long to wait for Redis at start before starting anyway (and answering 503). Default 5 s. */
  redisReadyTimeoutMs?: number;
  /**
   * How long an ended session still answers why it ended (session-core `tombstoneTtl`). Default 1 h.
   * The soak test shortens it so every key it made expires within the run.
   */
  sessionTombstoneTtlMs?: number;
}

export interface Runtime {
  deps: AppDeps;
  /** The users database (the CLI's TOTP key commands read it directly). */
  db: Database;
  /** Named checks for /readyz; each throws when its dependency can't answer. */
  readiness: Record<string, () => Promise<void>>;
  /** Where sessions live, for the banner and logs. */
  storeLabel: string;
  /** Demo accounts created on this start (their passwords are shown once), else null. */
  demo: DemoAccount[] | null;
  /** Where users live, for the banner. */
  databaseLabel: string;
  /** The keys TOTP secrets are encrypted with, and where they came from (`pnpm cli mfa keys`). */
  totpKeys: TotpKeys;
  close(): Promise<void>;
}

export async function compose(config: Config, options: ComposeOptions = {}): Promise<Runtime> {
  const role = options.role ?? 'server';
  const clock = options.clock ?? Date.now;
  const log = options.logger ?? createLogger(config);
  const prefix = options.redisPrefix ?? 'tessera:';
  const cleanups: (() => Promise<void> | void)[] = [];
  const close = async () => {
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch (error) {
        log.warn({ err: error }, 'error while closing');
      }
    }
    cleanups.length = 0;
  };

  try {
    // -- users database ---------------------------------------------------------------------------
    let db: Database;
    let pool: pg.Pool | null = null;
    let pglite: PGlite | null = null;
    let databaseLabel: string;
    if (config.databaseUrl) {
      const [{ default: pg }, { displayUrl }] = await Promise.all([import('pg'), import('./infra/redis.js')]);
      pool = new pg.Pool({
        connectionString: config.databaseUrl,
        max: config.databasePoolSize,
        connectionTimeoutMillis: 2_000,
        statement_timeout: 5_000,
        idleTimeoutMillis: 30_000,
      });
      // An idle client's connection dying (database restart) must not crash the process.
      pool.on('error', (error) => log.warn({ err: error }, 'postgres: idle client error'));
      db = postgresDatabase(pool);
      cleanups.push(() => db.close());
      databaseLabel = `PostgreSQL (${displayUrl(config.databaseUrl)})`;
    } else {
      const release = lockDataDir(config.dataDir, role);
      cleanups.push(release);
      const { PGlite } = await import('@electric-sql/pglite');
      pglite = await PGlite.create(join(config.dataDir, 'pglite'));
      db = pgliteDatabase(pglite);
      cleanups.push(() => db.close());
      databaseLabel = `embedded PGlite (${config.dataDir})`;
    }
    await migrate(db, clock);
    const loadKeys = () => {
      const loaded = totpKeys(config);
      logTotpKeys(log, loaded, config);
      return loaded;
    };
    // The server reads its keys (the first start generates the key file) before it answers anyone. A
    // CLI command reads them only when it seals or opens a secret, so `users create` writes no key
    // file and a CLI pointed at a shared database never makes up a key of its own for nothing.
    const keys = role === 'server' ? loadKeys() : totpKeysOnFirstUse(loadKeys);
    const sealed = await sealPlaintextTotpSecrets(db, keys.box);
    if (sealed > 0)
      log.info({ sealed }, 'TOTP secrets stored in clear before this version are now encrypted');
    // A server missing a key would answer 500 to each of those users' sign-ins: refuse to start
    // instead. The CLI runs anyway: `mfa keys` and `mfa rekey` report such secrets, and any other
    // command fails on the one secret it can't open, naming the missing key.
    if (role === 'server') await assertTotpKeysPresent(db, keys.box);

    // -- audit trail, metrics -----------------------------------------------------------------------
    const metrics = options.metrics ?? noMetrics;
    const audit = sqlAuditLog(db, { clock, log, retentionMs: config.auditRetentionMs, metrics });
    // Registered after the database, so it runs before it on close (cleanups run in reverse): what is
    // still queued is written while the database is open.
    cleanups.push(() => audit.close());

    // -- session store, grants, limits, events --------------------------------------------------
    let store: SessionStore;
    let grants: GrantStore;
    let credentialCounter: CredentialCounter;
    let requestSync: RequestCountSync | undefined;
    let events: SessionEventBus;
    let storeLabel: string;
    const readiness: Runtime['readiness'] = { database: () => db.ping() };

    if (options.sessions === false) {
      const no = notOpened;
      store = {
        create: no,
        validate: no,
        rotate: no,
        patch: no,
        logout: no,
        revoke: no,
        revokeAll: no,
        list: no,
        updateUser: no,
      };
      grants = { issue: no, attempt: no, take: no, sweep: no };
      credentialCounter = { hit: no, refund: no, sweep: no };
      events = localEventBus();
      storeLabel = 'not opened (this command touches no session)';
    } else if (config.redisUrl || config.redisClusterNodes) {
      const [{ displayUrl, redisClient, redisClusterClient, whenReady }, { redisStore }] = await Promise.all([
        import('./infra/redis.js'),
        import('@tessera/session-core/redis'),
      ]);
      const client = config.redisClusterNodes
        ? redisClusterClient(config.redisClusterNodes, log)
        : redisClient(config.redisUrl!, log);
      cleanups.push(() => client.disconnect());
      storeLabel = config.redisClusterNodes
        ? `Redis Cluster (${config.redisClusterNodes.join(', ')})`
        : `Redis (${displayUrl(config.redisUrl!)})`;
      if (!(await whenReady(client, options.redisReadyTimeoutMs ?? 5_000))) {
        log.warn(`${storeLabel} is not reachable yet: requests that need a session get 503 until it is`);
      }
      // The shard tag's key must be the same on every instance and across restarts (redisStore's
      // tagSecret): SESSION_TAG_SECRET, or one the first instance generated into the users database.
      const tagSecret =
        config.sessionTagSecret ?? (await storedSecret(db, 'session_tag', { bytes: 32, now: clock() }));
      store = redisStore({
        client,
        prefix,
        tagSecret,
        // A revoke or logout the master acknowledged must survive its failover (REDIS_WAIT_REPLICAS).
        ...(config.redisWaitForReplicas ? { waitForReplicas: config.redisWaitForReplicas } : {}),
      });
      grants = redisGrantStore(client, prefix);
      credentialCounter = redisCredentialCounter(client, prefix);
      // Only a server serves requests and listens for session events; the CLI still publishes the
      // sessions it ends, so the servers' live event streams hear of them at once.
      let subscriber: Redis | Cluster | undefined;
      if (role === 'server') {
        requestSync = redisRequestCountSync(client, prefix);
        subscriber = client.duplicate();
        subscriber.on('error', () => {}); // the main client already reports connection trouble
      }
      events = redisEventBus({
        publisher: client,
        subscriber,
        prefix,
        onError: (error) => log.warn({ err: error }, 'session events: redis pub/sub error'),
      });
      readiness.sessionStore = async () => {
        await client.ping();
      };
    } else {
      const sqlStore = pool
        ? (await import('@tessera/session-core/postgres')).postgresStore({ pool })
        : (await import('@tessera/session-core/pglite')).pgliteStore({ db: pglite! });
      await sqlStore.migrate();
      store = sqlStore;
      grants = sqlGrantStore(db, clock);
      credentialCounter = sqlCredentialCounter(db, clock);
      events = localEventBus();
      storeLabel = `${pool ? 'PostgreSQL' : 'embedded PGlite'} (same database as users)`;
      readiness.sessionStore = () => db.ping();
    }
    cleanups.push(() => events.close());
    const requestLimit = memoryRequestLimiter({
      max: config.rateLimit.requestsPerMinute,
      windowMs: 60_000,
      sync: requestSync,
      onSyncError: (error) => log.warn({ err: error }, 'request limit: sync failed, counting per instance'),
    });
    cleanups.push(() => requestLimit.close());

    const refusalsToRecord = refusalThrottle({ windowMs: 60_000, maxKeys: 10_000 });
    const sessions = createSessionManager<AppSessionData>({
      store,
      clock,
      idleTimeout: config.session.idleTimeoutMs,
      absoluteTimeout: config.session.absoluteTimeoutMs,
      maxSessionsPerUser: config.session.maxPerUser,
      onLimit: config.session.limitPolicy,
      ...(options.sessionTombstoneTtlMs === undefined ? {} : { tombstoneTtl: options.sessionTombstoneTtlMs }),
      cookie: { secure: config.cookieSecure },
      // DBSC (env.ts): the two endpoints are http/dbsc-route.ts. Off, a session that bound earlier
      // fails closed (device_unbound): nothing unbinds it. Not for a composition without sessions:
      // its stand-in store has no device methods.
      ...(config.deviceBinding && options.sessions !== false
        ? {
            deviceBinding: {
              origin: config.appOrigin,
              boundCookieTtl: config.deviceBinding.boundCookieTtlMs,
              challengeTtl: config.deviceBinding.challengeTtlMs,
            },
          }
        : {}),
      onEvent(event) {
        // Public ids only: an event never carries a token (nor a proof).
        log.info(
          {
            sessionEvent: event.type,
            sessionId: event.sessionId,
            userId: event.userId,
            reason: event.reason,
            refusal: event.refusal,
            algorithm: event.algorithm,
          },
          `session ${event.type}`,
        );
        events.publish(event);
        // Who ended it is known only to the call that ended it: procedures pass it as the call's
        // `context` (audit/actor.ts). Queued, never awaited: the ending call returns as fast as before.
        const acting = actingOf(event.context);
        const recorded = sessionEndedEvent(event, acting) ?? deviceEvent(event, acting);
        // Refused proofs: one row per session per minute (audit/refusal-throttle.ts says why).
        const throttled =
          recorded?.type === 'device_proof_refused' && !refusalsToRecord(event.sessionId, event.at);
        if (recorded && !throttled) audit.record(recorded);
        metrics.sessionEvent(event);
      },
    });

    const users = userRepository(db, { secrets: keys.box, clock });
    const deps: AppDeps = {
      config,
      log,
      clock,
      users,
      passwords: passwordHasher(options.argon2 ?? OWASP_ARGON2, config.passwordHashConcurrency),
      sessions,
      grants,
      credentialCounter,
      requestLimit,
      events,
      audit,
      metrics,
    };

    if (role === 'server') {
      const interval = options.sweepIntervalMs ?? 10 * 60_000;
      const sweep = async () => {
        try {
          const now = clock();
          const [s, g, l, a] = await Promise.all([
            sessions.sweep(),
            grants.sweep(now),
            credentialCounter.sweep(now),
            // Retention needs no cron: every server prunes (deleting the same old rows twice is harmless).
            audit.prune(now),
          ]);
          if (s + g + l + a > 0)
            log.debug({ sessions: s, grants: g, rateLimits: l, auditEvents: a }, 'swept expired rows');
        } catch (error) {
          log.warn({ err: error }, 'sweep failed (will retry)');
        }
      };
      const timer = setInterval(sweep, interval);
      timer.unref();
      cleanups.push(() => clearInterval(timer));
    }

    let demo: DemoAccount[] | null = null;
    if (role === 'server' && !config.databaseUrl && (options.demoUsers ?? true)) {
      demo = await seedDemoUsers(deps);
    }

    return { deps, db, readiness, storeLabel, demo, databaseLabel, totpKeys: keys, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/** Says where the TOTP key lives; a generated key shared through a database gets a loud warning. */
function logTotpKeys(log: Logger, keys: TotpKeys, config: Config): void {
  const { source } = keys;
  const keyIds = keys.box.keyIds;
  if (source.kind === 'env') {
    log.info({ keyIds }, `TOTP secrets: encrypted with TOTP_ENCRYPTION_KEYS (${source.count} key(s))`);
    return;
  }
  log.info(
    { keyIds, keyFile: source.path },
    `TOTP secrets: encrypted with the key in ${source.path}${source.created ? ' (generated now)' : ''}: ` +
      'keep it, and back it up apart from the database',
  );
  if (source.exposed)
    log.warn({ keyFile: source.path }, 'the TOTP key file is readable by other users: chmod 600');
  if (config.databaseUrl) {
    log.warn(
      { keyFile: source.path },
      'TOTP_ENCRYPTION_KEYS is not set: TOTP secrets in PostgreSQL are encrypted with a key generated in ' +
        'DATA_DIR on this host. Every instance sharing the database needs the same key: set ' +
        'TOTP_ENCRYPTION_KEYS (to the content of that file) on all of them.',
    );
  }
}

/** TOTP keys read (the first time anywhere: generated) when a secret is first sealed or opened. */
function totpKeysOnFirstUse(load: () => TotpKeys): TotpKeys {
  let loaded: TotpKeys | undefined;
  const keys = () => {
    loaded ??= load();
    return loaded;
  };
  return {
    get source() {
      return keys().source;
    },
    box: {
      get keyIds() {
        return keys().box.keyIds;
      },
      seal: (plaintext, context) => keys().box.seal(plaintext, context),
      open: (sealed, context) => keys().box.open(sealed, context),
      keyIdOf: (value) => keys().box.keyIdOf(value),
    },
  };
}

/** Every call to a part this composition did not open (`sessions: false`): a bug, said loudly. */
const notOpened = (): Promise<never> =>
  Promise.reject(new Error('compose: called a part that was not opened (ComposeOptions.sessions is false)'));
