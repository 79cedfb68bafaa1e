/**
 * The session manager over a real store: embedded PGlite by default (no service to run, durable in a
 * data directory), Redis when a URL is given. Everything framework-free lives here; the app only calls
 * the manager.
 */
import { mkdir } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import {
  createSessionManager,
  type DeviceBindingOptions,
  type Duration,
  type SessionManager,
} from '@tessera/session-core';
import { pgliteStore } from '@tessera/session-core/pglite';
import { redisStore } from '@tessera/session-core/redis';
import { Redis } from 'ioredis';

/** What this app keeps in a session: typed, and checked on every read by `parseData`. */
export interface AppSession {
  email: string;
}

function parseAppSession(raw: unknown): AppSession {
  const email = (raw as { email?: unknown } | null)?.email;
  if (typeof email !== 'string') throw new TypeError('session data without an email');
  return { email };
}

export interface SessionSettings {
  /** Sliding inactivity limit. Default '30m'. */
  idleTimeout?: Duration;
  /** Fixed limit from sign-in. Default '24h'. */
  absoluteTimeout?: Duration;
  /** Live sessions per user; at the limit the least recently active one ends. Default 3. */
  maxSessionsPerUser?: number;
  /** 'reject' refuses a sign-in at the limit (409) instead of evicting. */
  onLimit?: 'evict-oldest' | 'reject';
  /** false only for plain-HTTP development on a host other than localhost. Default true. */
  secureCookie?: boolean;
  /** Where PGlite keeps its files (created if missing). Default '.data/pglite'. */
  dataDir?: string;
  /** Use Redis instead of PGlite. */
  redisUrl?: string;
  /** With Redis: the shard-tag key, >= 32 bytes, stable across restarts and instances. */
  tagSecret?: Buffer;
  /** With Redis: key prefix. Default 'tessera:'. */
  redisPrefix?: string;
  /**
   * Device-bound sessions (DBSC): a browser that can keep a key in hardware binds its sign-in to it,
   * and the session then also needs a short-lived bound cookie that only that key renews, so a copied
   * session cookie alone opens nothing. `origin`: the app's origin as the browser sees it (https, or
   * http://localhost). Absent: off, and browsers without DBSC behave the same either way.
   */
  deviceBinding?: DeviceBindingOptions;
  /** ms since epoch; tests inject a fake clock to reach the deadlines without waiting. */
  clock?: () => number;
}

export interface OpenSessions {
  sessions: SessionManager<AppSession>;
  store: 'pglite' | 'redis';
  close(): Promise<void>;
}

export async function openSessions(settings: SessionSettings = {}): Promise<OpenSessions> {
  const policy = {
    idleTimeout: settings.idleTimeout ?? '30m',
    absoluteTimeout: settings.absoluteTimeout ?? '24h',
    maxSessionsPerUser: settings.maxSessionsPerUser ?? 3,
    onLimit: settings.onLimit ?? 'evict-oldest',
    cookie: { secure: settings.secureCookie ?? true },
    parseData: parseAppSession,
    ...(settings.deviceBinding ? { deviceBinding: settings.deviceBinding } : {}),
    ...(settings.clock ? { clock: settings.clock } : {}),
  };

  if (settings.redisUrl) {
    // Fail fast and closed when Redis is down instead of queueing requests; an `error` listener keeps
    // an outage from crashing the process (ioredis emits one per failed reconnect).
    const client = new Redis(settings.redisUrl, {
      enableOfflineQueue: false,
      commandTimeout: 1000,
      maxRetriesPerRequest: 1,
    });
    let reported = false;
    client.on('error', (error: Error) => {
      if (!reported) console.error(`redis: ${error.message}`);
      reported = true;
    });
    client.on('ready', () => {
      reported = false;
    });
    const { tagSecret } = settings;
    if (!tagSecret) throw new Error('tagSecret is required with Redis (openssl rand -base64 32, kept)');
    const store = redisStore({
      client,
      tagSecret,
      ...(settings.redisPrefix ? { prefix: settings.redisPrefix } : {}),
    });
    const sessions = createSessionManager({ store, ...policy });
    return { sessions, store: 'redis', close: async () => client.disconnect() };
  }

  const dataDir = settings.dataDir ?? '.data/pglite';
  await mkdir(dataDir, { recursive: true }); // PGlite creates only the last folder of the path
  const db = await PGlite.create(dataDir);
  const sessions = createSessionManager({ store: pgliteStore({ db }), ...policy });
  // SQL has no TTLs: delete expired rows now and then.
  const sweep = setInterval(() => sessions.sweep().catch((e: Error) => console.error(e.message)), 60_000);
  sweep.unref();
  return {
    sessions,
    store: 'pglite',
    close: async () => {
      clearInterval(sweep);
      if (!db.closed) await db.close();
    },
  };
}
