import { type CookieOptions, type ResolvedCookieOptions, resolveCookieOptions } from './cookie.js';
import { type Duration, parseDuration } from './durations.js';
import { SessionConfigError } from './errors.js';
import type { SessionEventListener } from './events.js';
import type { SessionData, SessionStore, StorePolicy } from './store.js';

export interface SessionManagerOptions<TData extends object = SessionData> {
  /**
   * Where sessions live: `redisStore({ client, tagSecret })`, `postgresStore({ pool })`,
   * `pgliteStore({ db })`, or your own (see docs/write-your-own-store.md).
   */
  store: SessionStore;
  /** Milliseconds since epoch. Default `Date.now`. Inject a fake one in tests. */
  clock?: () => number;
  /** Sliding inactivity limit. Default `'30m'` (OWASP: 15-30 min for most applications). */
  idleTimeout?: Duration;
  /** Hard limit from sign-in, never extended. Default `'24h'`. */
  absoluteTimeout?: Duration;
  /** Live sessions per user. Default `3`. */
  maxSessionsPerUser?: number;
  /**
   * At the limit: `'evict-oldest'` (default) ends the least recently active session to make room;
   * `'reject'` throws SessionLimitError listing the active ones so the user can pick one to end.
   */
  onLimit?: 'evict-oldest' | 'reject';
  /** How long an ended session still answers *why* it ended (then `unknown`). Default `'1h'`. */
  tombstoneTtl?: Duration;
  /** Cookie name and attributes. Default `__Host-tessera; HttpOnly; Secure; SameSite=Lax; Path=/`. */
  cookie?: CookieOptions;
  /** Called synchronously for every session event; exceptions it throws are swallowed. */
  onEvent?: SessionEventListener;
  /**
   * Checks (and may normalise) the data of every session the manager hands out, whether read from the
   * store or just created, and the data given to `create` before it is stored. Session data comes back
   * from a store as JSON, possibly written by an older version of your app: this is the one place to
   * say what it must look like. Return the typed value or throw; a throw surfaces as a SessionError
   * with code `'INVALID_DATA'` (your error as its `cause`). Default: the data as stored, unchecked.
   * Its return type is the manager's `TData`, so `createSessionManager` infers it from here.
   * @example parseData: (raw) => appSessionSchema.parse(raw) // zod, valibot, or a hand-written check
   */
  parseData?: (raw: unknown) => TData;
}

export interface ResolvedOptions<TData extends object = SessionData> {
  store: SessionStore;
  clock: () => number;
  policy: StorePolicy;
  maxSessionsPerUser: number;
  onLimit: 'evict-oldest' | 'reject';
  cookie: ResolvedCookieOptions;
  onEvent: SessionEventListener | undefined;
  parseData: ((raw: unknown) => TData) | undefined;
}

const STORE_METHODS = [
  'create',
  'validate',
  'rotate',
  'patch',
  'logout',
  'revoke',
  'revokeAll',
  'list',
  'updateUser',
] as const;

export function resolveOptions<TData extends object>(
  options: SessionManagerOptions<TData>,
): ResolvedOptions<TData> {
  if (!options || typeof options !== 'object')
    throw new SessionConfigError('createSessionManager needs an options object');
  const { store } = options;
  const missing = STORE_METHODS.filter(
    (m) => typeof (store as unknown as Record<string, unknown> | undefined)?.[m] !== 'function',
  );
  if (missing.length > 0)
    throw new SessionConfigError(`store is not a SessionStore (missing ${missing.join(', ')})`);
  if (store.newSessionId !== undefined && typeof store.newSessionId !== 'function')
    throw new SessionConfigError('store.newSessionId must be a function when present');
  if (options.clock !== undefined && typeof options.clock !== 'function') {
    throw new SessionConfigError('clock must be a function returning ms since epoch');
  }
  const idleMs = parseDuration(options.idleTimeout ?? '30m', 'idleTimeout');
  const absoluteMs = parseDuration(options.absoluteTimeout ?? '24h', 'absoluteTimeout');
  const tombstoneMs = parseDuration(options.tombstoneTtl ?? '1h', 'tombstoneTtl');
  if (idleMs < 1000) throw new SessionConfigError(`idleTimeout must be at least 1s, got ${idleMs} ms`);
  if (absoluteMs < idleMs) {
    throw new SessionConfigError(
      `idleTimeout (${idleMs} ms) can't exceed absoluteTimeout (${absoluteMs} ms)`,
    );
  }
  const max = options.maxSessionsPerUser ?? 3;
  if (!Number.isInteger(max) || max < 1 || max > 1000) {
    throw new SessionConfigError(`maxSessionsPerUser must be an integer from 1 to 1000, got ${max}`);
  }
  const onLimit = options.onLimit ?? 'evict-oldest';
  if (onLimit !== 'evict-oldest' && onLimit !== 'reject') {
    throw new SessionConfigError(`onLimit must be 'evict-oldest' or 'reject', got '${String(onLimit)}'`);
  }
  if (options.onEvent !== undefined && typeof options.onEvent !== 'function') {
    throw new SessionConfigError('onEvent must be a function');
  }
  if (options.parseData !== undefined && typeof options.parseData !== 'function') {
    throw new SessionConfigError('parseData must be a function');
  }
  let cookie: ResolvedCookieOptions;
  try {
    cookie = resolveCookieOptions(options.cookie);
  } catch (error) {
    throw new SessionConfigError(`cookie: ${(error as Error).message}`);
  }
  return {
    store,
    clock: options.clock ?? Date.now,
    policy: { idleMs, absoluteMs, tombstoneMs },
    maxSessionsPerUser: max,
    onLimit,
    cookie,
    onEvent: options.onEvent,
    parseData: options.parseData,
  };
}
