/**
 * The composition root: config -> clients -> stores -> session manager -> everything the routers
 * need. The only place that opens connections; `close()` ends them all. main.ts, the CLI and the
 * tests all compose through here.
 *
 *   users database   PostgreSQL (DATABASE_URL) | embedded PGlite in DATA_DIR (locked to one process)
 *   session store    Redis (REDIS_URL) | Redis Cluster (REDIS_CLUSTER_NODES) | the SQL database above
 *   grants, limits   same family as the session store (Redis, else the database); the per-IP request
 *                    limit counts in memory, shared through Redis when there is one
 */
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { createSessionManager, type SessionStore } from '@tessera/session-core';
import { pgliteStore } from '@tessera/session-core/pglite';
import { postgresStore } from '@tessera/session-core/postgres';
import { redisStore } from '@tessera/session-core/redis';
import type { Cluster, Redis } from 'ioredis';
import pg from 'pg';
import type { Logger } from 'pino';
import { type GrantStore, redisGrantStore, sqlGrantStore } from './auth/grants.js';
import { type TotpKeys, totpKeys } from './auth/totp-keys.js';
import { lockDataDir } from './db/data-dir-lock.js';
import { type Database, pgliteDatabase, postgresDatabase } from './db/database.js';
import { migrate } from './db/migrations.js';
import { storedSecret } from './db/server-secrets.js';
import { type DemoAccount, seedDemoUsers } from './demo.js';
import type { AppDeps, AppSessionData } from './deps.js';
import type { Config } from './env.js';
import { createLogger } from './logger.js';
import { displayUrl, redisClient, redisClusterClient, whenReady } from './redis.js';
import { type RateLimiter, redisRateLimiter, sqlRateLimiter } from './security/limiter.js';
import { memoryRequestLimiter, type RequestCountSync } from './security/request-limit.js';
import { redisRequestCountSync } from './security/shared-request-limit.js';
import { localEventBus, redisEventBus, type SessionEventBus } from './sessions/event-bus.js';
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
  /** Seed a demo admin and user into an empty embedded database. Default true for the server role. */
  demoUsers?: boolean;
  /** How often to delete dead rows (SQL sessions, grants, rate-limit windows). Default 10 min. */
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
      pglite = await PGlite.create(join(config.dataDir, 'pglite'));
      db = pgliteDatabase(pglite);
      cleanups.push(() => db.close());
      databaseLabel = `embedded PGlite (${config.dataDir})`;
    }
    await migrate(db, clock);
    const keys = totpKeys(config);
    logTotpKeys(log, keys, config);
    const sealed = await sealPlaintextTotpSecrets(db, keys.box);
    if (sealed > 0)
      log.info({ sealed }, 'TOTP secrets stored in clear before this version are now encrypted');
    // A server missing a key would answer 500 to each of those users' sign-ins: refuse to start
    // instead. The CLI still runs (to list keys and rekey), and says so.
    await assertTotpKeysPresent(db, keys.box).catch((error: unknown) => {
      if (role === 'server') throw error;
      log.error({ err: error }, 'some TOTP secrets cannot be read with the configured keys');
    });

    // -- session store, grants, limits, events --------------------------------------------------
    let redis: Redis | Cluster | null = null;
    let store: SessionStore;
    let grants: GrantStore;
    let limiter: RateLimiter;
    let requestSync: RequestCountSync | undefined;
    let events: SessionEventBus;
    let storeLabel: string;
    const readiness: AppDeps['readiness'] = { database: () => db.ping() };

    if (config.redisUrl || config.redisClusterNodes) {
      const client = config.redisClusterNodes
        ? redisClusterClient(config.redisClusterNodes, log)
        : redisClient(config.redisUrl!, log);
      redis = client;
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
      limiter = redisRateLimiter(client, prefix);
      requestSync = redisRequestCountSync(client, prefix);
      const subscriber = client.duplicate();
      subscriber.on('error', () => {}); // the main client already reports connection trouble
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
      const sqlStore = pool ? postgresStore({ pool }) : pgliteStore({ db: pglite! });
      await sqlStore.migrate();
      store = sqlStore;
      grants = sqlGrantStore(db, clock);
      limiter = sqlRateLimiter(db, clock);
      events = localEventBus();
      storeLabel = `${pool ? 'PostgreSQL' : 'embedded PGlite'} (same database as users)`;
      readiness.sessionStore = () => db.ping();
    }
    cleanups.push(() => events.close());
    const requests = memoryRequestLimiter({
      max: config.rateLimit.requestsPerMinute,
      windowMs: 60_000,
      sync: requestSync,
      onSyncError: (error) => log.warn({ err: error }, 'request limit: sync failed, counting per instance'),
    });
    cleanups.push(() => requests.close());

    const sessions = createSessionManager<AppSessionData>({
      store,
      clock,
      idleTimeout: config.session.idleTimeoutMs,
      absoluteTimeout: config.session.absoluteTimeoutMs,
      maxSessionsPerUser: config.session.maxPerUser,
      onLimit: config.session.limitPolicy,
      ...(options.sessionTombstoneTtlMs === undefined ? {} : { tombstoneTtl: options.sessionTombstoneTtlMs }),
      cookie: { secure: config.cookieSecure },
      onEvent(event) {
        // Public ids only: an event never carries a token.
        log.info(
          {
            sessionEvent: event.type,
            sessionId: event.sessionId,
            userId: event.userId,
            reason: event.reason,
          },
          `session ${event.type}`,
        );
        events.publish(event);
      },
    });

    const users = userRepository(db, { secrets: keys.box, clock });
    const deps: AppDeps = {
      config,
      log,
      clock,
      db,
      users,
      passwords: passwordHasher(options.argon2 ?? OWASP_ARGON2, config.passwordHashConcurrency),
      sessions,
      grants,
      limiter,
      requests,
      events,
      readiness,
      storeLabel,
      redis,
    };

    if (role === 'server') {
      const interval = options.sweepIntervalMs ?? 10 * 60_000;
      const sweep = async () => {
        try {
          const now = clock();
          const [s, g, l] = await Promise.all([sessions.sweep(), grants.sweep(now), limiter.sweep(now)]);
          if (s + g + l > 0) log.debug({ sessions: s, grants: g, rateLimits: l }, 'swept expired rows');
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

    return { deps, demo, databaseLabel, totpKeys: keys, close };
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
