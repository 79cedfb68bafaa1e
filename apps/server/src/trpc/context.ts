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
 * A store failure is not caught here: it reaches errors.ts, which answers 503 (never "signed out").
 */
import { type InvalidReason, readCookie, type SessionCookie } from '@tessera/session-core';
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

/** The request's session, one object shared by every call of a batch. */
export interface RequestAuth {
  /** The live session (validated and touched), or null. */
  readonly session: AppSession | null;
  /** The token of `session` (after a rotation on this request: the new one). */
  readonly token: string | null;
  /** Why `session` is null. */
  readonly reason: NoSessionReason | null;
  /** The token the cookie carried, live or not (sign-in and logout end it), until replaced. */
  readonly presented: string | null;
  /** The one way to change the session: sets the new state and queues its cookie. */
  replace(change: SessionChange): void;
}

function requestAuth(
  response: ResponseState,
  initial: { session: AppSession; token: string } | { reason: NoSessionReason; presented: string | null },
): RequestAuth {
  let session: AppSession | null = 'session' in initial ? initial.session : null;
  let token: string | null = 'session' in initial ? initial.token : null;
  let reason: NoSessionReason | null = 'reason' in initial ? initial.reason : null;
  let presented: string | null = 'session' in initial ? initial.token : initial.presented;
  return {
    get session() {
      return session;
    },
    get token() {
      return token;
    },
    get reason() {
      return reason;
    },
    get presented() {
      return presented;
    },
    replace(change) {
      response.cookies.set(change.cookie.name, change.cookie);
      if ('ended' in change) {
        session = null;
        token = null;
        presented = null;
        reason = change.ended;
      } else {
        session = change.session;
        token = change.token;
        presented = change.token;
        reason = null;
      }
    },
  };
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
  const auth =
    opts.session && opts.token
      ? requestAuth(response, { session: opts.session, token: opts.token })
      : requestAuth(response, {
          reason: opts.noSession ?? 'missing',
          presented: opts.presentedToken ?? null,
        });
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
  const { sessions } = deps;
  const challengeCookie = mfaCookieName(deps.config.cookieSecure);

  return async function createContext(req: RequestInput): Promise<Context> {
    const { response, cookieHeader } = req;
    const meta: RequestMeta = { ip: req.ip, userAgent: req.userAgent?.slice(0, MAX_USER_AGENT) ?? null };
    const challenge = readCookie(cookieHeader, challengeCookie);
    const mfaChallenge = challenge.status === 'found' ? challenge.value : null;
    const common = { deps, mfaChallenge, meta, response, closing };
    const read = readCookie(cookieHeader, sessions.cookieName);

    if (read.status === 'duplicate') {
      // Two cookies of our name (one planted for a parent domain, say): adopt neither.
      response.cookies.set(sessions.cookieName, sessions.blankCookie());
      return createContextInner({ ...common, noSession: 'duplicate' });
    }
    if (read.status === 'missing') return createContextInner({ ...common, noSession: 'missing' });

    const result = await sessions.validate(read.value);
    if (result.cookie) response.cookies.set(result.cookie.name, result.cookie);
    if (!result.session) {
      return createContextInner({ ...common, noSession: result.reason, presentedToken: read.value });
    }
    // The token in force: after a pending role change rotated it on this very request, the new one.
    return createContextInner({ ...common, session: result.session, token: result.token });
  };
}
