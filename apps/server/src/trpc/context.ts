/**
 * The tRPC context, in two parts (as in tRPC's own examples):
 *  - `createContextInner`: everything a procedure needs, no HTTP. Tests call routers with it through
 *    `createCaller`.
 *  - `contextFactory`: what the /trpc route (http/trpc-route.ts) calls once per HTTP request. It
 *    reads the session cookie and validates it ONCE (one store round trip, however many procedures a
 *    batch holds) and queues the clearing cookie when the token is dead.
 *
 * The session is one value, `ctx.auth`: a live session with its token, or why there is none. It
 * changes in one way, `ctx.auth.replace()` (sign-in, rotation, logout), which also queues the cookie,
 * so what the request's state says and the cookie the client gets can never disagree.
 *
 * With device binding on (DBSC, docs/DBSC.md), the bound cookie is read alongside the session cookie
 * and goes into the same one `validate`: a device-bound session without a fresh bound cookie is
 * `device_unbound` (401, no cookie cleared: the session lives on for its device).
 *
 * A store failure is not caught here: it reaches errors.ts, which answers 503 (never "signed out").
 */
import { type InvalidReason, readCookie, type SessionCookie } from '@tessera/session-core';
import { noMetrics } from '../metrics/metrics.js';
import type { AppSession } from '../sessions/session-data.js';
import type { AppDeps } from './deps.js';

/** Why a request has no session: the cookie's state, or what the store knows about its token. */
export type NoSessionReason = InvalidReason | 'duplicate';

export interface RequestMeta {
  /** Client address (X-Forwarded-For only counts when TRUST_PROXY says so). */
  ip: string | null;
  userAgent: string | null;
}

/**
 * What the response must carry besides the body, filled while the request runs and written to the
 * reply by the /trpc route alone.
 */
export interface ResponseState {
  /** By cookie name: a later write for the same name replaces an earlier one. */
  cookies: Map<string, SessionCookie>;
  headers: Map<string, string>;
}

export const newResponseState = (): ResponseState => ({ cookies: new Map(), headers: new Map() });

/** What replaces the request's session: a session just issued or rotated, or the end of one. */
export type SessionChange =
  | { session: AppSession; token: string; cookie: SessionCookie }
  | { ended: NoSessionReason; cookie: SessionCookie };

/**
 * The request's session, one object shared by every call of a batch. Read through getters, changed
 * only by `replace` (a class: it is made on every request, and V8 makes instances of one class, with
 * their getters on the prototype, faster than an object literal with getters).
 */
export class RequestAuth {
  constructor(
    private readonly response: ResponseState,
    private _session: AppSession | null,
    private _token: string | null,
    private _reason: NoSessionReason | null,
    private _presented: string | null,
    /** With device binding on: the cookie that clears the bound cookie, queued when the session ends. */
    private readonly clearBound: SessionCookie | null = null,
  ) {}

  /** The live session (validated and touched), or null. */
  get session(): AppSession | null {
    return this._session;
  }
  /** The token of `session` (after a rotation on this request: the new one). */
  get token(): string | null {
    return this._token;
  }
  /** Why `session` is null. */
  get reason(): NoSessionReason | null {
    return this._reason;
  }
  /** The token the cookie carried, live or not (sign-in and logout end it), until replaced. */
  get presented(): string | null {
    return this._presented;
  }

  /**
   * The one way to change the session: sets the new state and queues its cookie (when it ends, also
   * the one clearing its bound cookie, worthless without it).
   */
  replace(change: SessionChange): void {
    this.response.cookies.set(change.cookie.name, change.cookie);
    if ('ended' in change) {
      if (this.clearBound) this.response.cookies.set(this.clearBound.name, this.clearBound);
      this._session = null;
      this._token = null;
      this._presented = null;
      this._reason = change.ended;
    } else {
      this._session = change.session;
      this._token = change.token;
      this._presented = change.token;
      this._reason = null;
    }
  }
}

export interface Context {
  deps: AppDeps;
  auth: RequestAuth;
  /** The raw MFA challenge token from its cookie, when present (sign-in.ts sets and clears it). */
  mfaChallenge: string | null;
  meta: RequestMeta;
  response: ResponseState;
  /** Aborted when the server shuts down: long-lived subscriptions end then. */
  closing: AbortSignal;
}

const NEVER = new AbortController().signal;

export function createContextInner(opts: {
  deps: AppDeps;
  /** A live session and its token; else `noSession` says why there is none (default 'missing'). */
  session?: AppSession | null;
  token?: string | null;
  noSession?: NoSessionReason;
  /** The dead token the cookie carried, when there is no live session. */
  presentedToken?: string | null;
  mfaChallenge?: string | null;
  meta?: Partial<RequestMeta>;
  response?: ResponseState;
  closing?: AbortSignal;
}): Context {
  const response = opts.response ?? newResponseState();
  const live = opts.session && opts.token ? { session: opts.session, token: opts.token } : null;
  const clearBound = opts.deps.sessions.deviceBinding?.blankCookie() ?? null;
  const auth = live
    ? new RequestAuth(response, live.session, live.token, null, live.token, clearBound)
    : new RequestAuth(
        response,
        null,
        null,
        opts.noSession ?? 'missing',
        opts.presentedToken ?? null,
        clearBound,
      );
  return {
    deps: opts.deps,
    auth,
    mfaChallenge: opts.mfaChallenge ?? null,
    meta: { ip: opts.meta?.ip ?? null, userAgent: opts.meta?.userAgent ?? null },
    response,
    closing: opts.closing ?? NEVER,
  };
}

/** The name of the MFA challenge cookie (same prefix rules as the session cookie). */
export const mfaCookieName = (secure: boolean) => (secure ? '__Host-tessera-mfa' : 'tessera-mfa');

const MAX_USER_AGENT = 512;

/** What the /trpc route hands over of each request (http/trpc-route.ts). */
export interface RequestInput {
  cookieHeader: string | undefined;
  userAgent: string | undefined;
  ip: string | null;
  response: ResponseState;
}

export function contextFactory(deps: AppDeps, closing?: AbortSignal) {
  const { sessions, metrics, config, log } = deps;
  const challengeCookie = mfaCookieName(config.cookieSecure);
  const binding = sessions.deviceBinding;
  // Made once: the cookie that clears the bound cookie when a session ends (DBSC on), else none.
  const clearBound = binding?.blankCookie() ?? null;
  // The label of tessera_session_validate_duration_seconds: where compose.ts put the sessions.
  const store = config.redisClusterNodes
    ? 'redis_cluster'
    : config.redisUrl
      ? 'redis'
      : config.databaseUrl
        ? 'postgres'
        : 'pglite';
  // Without METRICS_PORT the request path doesn't read the clock for them.
  const validate =
    metrics === noMetrics
      ? (token: string, bound: string | null) => sessions.validate(token, { bound })
      : async (token: string, bound: string | null) => {
          const started = performance.now();
          try {
            return await sessions.validate(token, { bound });
          } finally {
            // Failures too: a store timing out shows in the top bucket.
            metrics.validateSeconds(store, (performance.now() - started) / 1000);
          }
        };

  return async function createContext(req: RequestInput): Promise<Context> {
    const { response, cookieHeader } = req;
    const meta: RequestMeta = { ip: req.ip, userAgent: req.userAgent?.slice(0, MAX_USER_AGENT) ?? null };
    const challenge = readCookie(cookieHeader, challengeCookie);
    const mfaChallenge = challenge.status === 'found' ? challenge.value : null;
    const context = (auth: RequestAuth): Context => ({
      deps,
      auth,
      mfaChallenge,
      meta,
      response,
      closing: closing ?? NEVER,
    });
    const read = readCookie(cookieHeader, sessions.cookieName);

    if (read.status === 'duplicate') {
      // Two cookies of our name (one planted for a parent domain, say): adopt neither.
      response.cookies.set(sessions.cookieName, sessions.blankCookie());
      return context(new RequestAuth(response, null, null, 'duplicate', null, clearBound));
    }
    if (read.status === 'missing')
      return context(new RequestAuth(response, null, null, 'missing', null, clearBound));

    // Several bound cookies count as none, like a missing one: the session decides (device_unbound).
    const bound = binding ? readCookie(cookieHeader, binding.cookieName) : null;
    const result = await validate(read.value, bound?.status === 'found' ? bound.value : null);
    if (result.cookie) response.cookies.set(result.cookie.name, result.cookie);
    if (!result.session) {
      if (result.reason === 'device_unbound') {
        metrics.deviceUnbound();
        log.debug(
          { sessionId: read.value.slice(0, 26) },
          'device-bound session without a fresh bound cookie',
        );
      } else if (result.cookie && clearBound) {
        // The session cookie is being cleared (the session ended): its bound cookie goes with it.
        response.cookies.set(clearBound.name, clearBound);
      }
      return context(new RequestAuth(response, null, null, result.reason, read.value, clearBound));
    }
    // The token in force: after a pending role change rotated it on this very request, the new one.
    return context(new RequestAuth(response, result.session, result.token, null, result.token, clearBound));
  };
}
