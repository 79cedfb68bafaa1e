import {
  type CookieOptions,
  isCookieName,
  type ResolvedCookieOptions,
  resolveCookieOptions,
} from './cookie.js';
import { isBindableOrigin } from './dbsc/config.js';
import { DBSC_ALGORITHMS, type DbscAlgorithm } from './dbsc/headers.js';
import { type Duration, parseDuration } from './durations.js';
import { SessionConfigError } from './errors.js';
import type { SessionEventListener } from './events.js';
import type { SessionData, SessionStore, StorePolicy } from './store.js';

/**
 * Device Bound Session Credentials (W3C webappsec-dbsc, docs/DBSC.md): sessions that a browser binds
 * to a key it keeps in hardware are authenticated only with a short-lived bound cookie, which only a
 * proof of that key renews. Browsers without DBSC keep today's behaviour.
 */
export interface DeviceBindingOptions {
  /**
   * The app's origin as the browser sees it (`https://app.example`; `http://localhost:...` in
   * development): the scope of the browser's bound session. Taken from configuration, never from a
   * request a proxy may have rewritten.
   */
  origin: string;
  /** The bound cookie's name. Default `'__Host-tessera-bound'` (`'tessera-bound'` when not secure). */
  cookieName?: string;
  /**
   * How long a bound cookie lasts before the browser must prove the key again. Default `'10m'`; at
   * least `'2m'`: Chrome allows a site 6 signatures per 9 minutes and skips refreshes past that.
   */
  boundCookieTtl?: Duration;
  /** How long a registration or refresh challenge may be answered. Default `'15m'`; longer than `boundCookieTtl`. */
  challengeTtl?: Duration;
  /**
   * After registration, how long requests without the bound cookie still pass (those already in
   * flight when it happened). Default `'10s'`, at most `'1m'`.
   */
  registrationGrace?: Duration;
  /** Where the browser posts its registration (the app routes it). Default `'/dbsc/register'`. */
  registrationPath?: string;
  /** Where the browser refreshes (the app routes it). Default `'/dbsc/refresh'`. */
  refreshPath?: string;
  /** Signature algorithms offered, in order of preference. Default `['ES256', 'RS256']`. */
  algorithms?: DbscAlgorithm[];
}

export interface ResolvedDeviceBinding {
  origin: string;
  cookieName: string;
  boundCookieTtlMs: number;
  challengeTtlMs: number;
  registrationGraceMs: number;
  registrationPath: string;
  refreshPath: string;
  algorithms: readonly DbscAlgorithm[];
}

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
  /**
   * Turns on device-bound sessions (DBSC). The store must implement the device methods (the three
   * shipped here do). Leaving it out later does not unbind a session that bound: it fails closed.
   */
  deviceBinding?: DeviceBindingOptions;
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
  deviceBinding: ResolvedDeviceBinding | null;
}

const DEVICE_METHODS = ['bindDevice', 'deviceChallenge', 'deviceKey', 'refreshDevice'] as const;

function resolveDeviceBinding(
  options: DeviceBindingOptions | undefined,
  store: SessionStore,
  cookie: ResolvedCookieOptions,
): ResolvedDeviceBinding | null {
  if (options === undefined) return null;
  if (!options || typeof options !== 'object')
    throw new SessionConfigError('deviceBinding must be an object');
  const missing = DEVICE_METHODS.filter(
    (m) => typeof (store as unknown as Record<string, unknown>)[m] !== 'function',
  );
  if (missing.length > 0) {
    throw new SessionConfigError(
      `deviceBinding needs a store with device methods; ${store.name ?? 'this'} store lacks ${missing.join(', ')}`,
    );
  }
  let origin: URL;
  try {
    origin = new URL(options.origin);
  } catch {
    throw new SessionConfigError(`deviceBinding.origin must be an origin like https://app.example`);
  }
  if (origin.origin !== options.origin)
    throw new SessionConfigError(
      `deviceBinding.origin '${options.origin}' is not an origin (no path, no slash)`,
    );
  if (!isBindableOrigin(options.origin))
    throw new SessionConfigError(
      'deviceBinding.origin must be https (or http://localhost): browsers bind only there',
    );
  const cookieName = options.cookieName ?? (cookie.secure ? '__Host-tessera-bound' : 'tessera-bound');
  if (!isCookieName(cookieName) || cookieName === cookie.name)
    throw new SessionConfigError(
      `deviceBinding.cookieName '${cookieName}' must be a token other than the session cookie's`,
    );
  if (cookieName.startsWith('__Host-') && !cookie.secure)
    throw new SessionConfigError('a __Host- bound cookie requires cookie.secure');
  const boundCookieTtlMs = parseDuration(options.boundCookieTtl ?? '10m', 'deviceBinding.boundCookieTtl');
  if (boundCookieTtlMs < 120_000)
    throw new SessionConfigError(
      `deviceBinding.boundCookieTtl must be at least 2m (Chrome's refresh quota), got ${boundCookieTtlMs} ms`,
    );
  const challengeTtlMs = parseDuration(options.challengeTtl ?? '15m', 'deviceBinding.challengeTtl');
  if (challengeTtlMs < 10_000)
    throw new SessionConfigError(`deviceBinding.challengeTtl must be at least 10s, got ${challengeTtlMs} ms`);
  // A refresh's 200 hands out the next challenge, answered one bound-cookie lifetime later: a shorter
  // challenge would always have expired by then, costing every refresh a 403 round trip.
  if (challengeTtlMs <= boundCookieTtlMs)
    throw new SessionConfigError(
      `deviceBinding.challengeTtl (${challengeTtlMs} ms) must be longer than boundCookieTtl (${boundCookieTtlMs} ms)`,
    );
  const registrationGraceMs = parseDuration(
    options.registrationGrace ?? '10s',
    'deviceBinding.registrationGrace',
  );
  if (registrationGraceMs > 60_000)
    throw new SessionConfigError(
      `deviceBinding.registrationGrace must be at most 1m, got ${registrationGraceMs} ms`,
    );
  const path = (name: string, value: string | undefined, fallback: string) => {
    const p = value ?? fallback;
    if (typeof p !== 'string' || !/^\/[A-Za-z0-9._~!$&'()*+,;=:@/-]*$/.test(p))
      throw new SessionConfigError(`deviceBinding.${name} must be an absolute path like '${fallback}'`);
    return p;
  };
  const registrationPath = path('registrationPath', options.registrationPath, '/dbsc/register');
  const refreshPath = path('refreshPath', options.refreshPath, '/dbsc/refresh');
  if (registrationPath === refreshPath)
    throw new SessionConfigError('deviceBinding.registrationPath and refreshPath must differ');
  const algorithms = options.algorithms ?? [...DBSC_ALGORITHMS];
  if (
    !Array.isArray(algorithms) ||
    algorithms.length === 0 ||
    new Set(algorithms).size !== algorithms.length ||
    algorithms.some((a) => !DBSC_ALGORITHMS.includes(a))
  )
    throw new SessionConfigError(
      `deviceBinding.algorithms must be a non-empty list of ${DBSC_ALGORITHMS.join(', ')}`,
    );
  return {
    origin: options.origin,
    cookieName,
    boundCookieTtlMs,
    challengeTtlMs,
    registrationGraceMs,
    registrationPath,
    refreshPath,
    algorithms: Object.freeze([...algorithms]),
  };
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
  const deviceBinding = resolveDeviceBinding(options.deviceBinding, store, cookie);
  return {
    store,
    clock: options.clock ?? Date.now,
    policy: { idleMs, absoluteMs, tombstoneMs, bindingGraceMs: deviceBinding?.registrationGraceMs ?? 0 },
    maxSessionsPerUser: max,
    onLimit,
    cookie,
    onEvent: options.onEvent,
    parseData: options.parseData,
    deviceBinding,
  };
}
