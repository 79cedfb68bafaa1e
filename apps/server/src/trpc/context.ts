/**
 * The tRPC context, in two parts (as in tRPC's own examples):
 *  - `createContextInner`: everything a procedure needs, no req/res. Tests call routers with it
 *    through `createCaller`.
 *  - `createContext`: the Fastify adapter part. It reads the session cookie and validates it ONCE per
 *    HTTP request (one store round trip, however many procedures a batch holds), queues the clearing
 *    cookie when the token is dead, and exposes the session or the reason there is none.
 * Cookies are queued as data (`ResponseState.cookies`) and written to the reply in one place
 * (http/trpc-plugin.ts). A store failure throws SERVICE_UNAVAILABLE: it never reads as "signed out".
 */
import { type InvalidReason, readCookie, type SessionCookie } from '@tessera/session-core';
import { TRPCError } from '@trpc/server';
import type { CreateFastifyContextOptions } from '@trpc/server/adapters/fastify';
import type { AppDeps, AppSession } from './deps.js';

/** Why a request has no session: the cookie's state, or what the store knows about its token. */
export type NoSessionReason = InvalidReason | 'duplicate';

export interface RequestMeta {
  /** Client address (X-Forwarded-For only counts when TRUST_PROXY says so). */
  ip: string | null;
  userAgent: string | null;
}

/** What the response must carry, filled by createContext and procedures; written in one place. */
export interface ResponseState {
  /** By cookie name: a later write for the same name replaces an earlier one. */
  cookies: Map<string, SessionCookie>;
  headers: Map<string, string>;
}

export interface Context {
  deps: AppDeps;
  /** The live session of this request, already validated and touched. */
  session: AppSession | null;
  /** The token that opened `session` (after a rotation on this request: the new one). */
  token: string | null;
  /** Whatever token the cookie carried, live or not (login and logout destroy it). */
  presentedToken: string | null;
  /** Why `session` is null. */
  noSession: NoSessionReason | null;
  /** The raw MFA challenge token from its cookie, when present. */
  mfaChallenge: string | null;
  meta: RequestMeta;
  response: ResponseState;
  /** Aborted when the server shuts down: long-lived subscriptions end then. */
  closing: AbortSignal;
}

const NEVER = new AbortController().signal;

export const newResponseState = (): ResponseState => ({ cookies: new Map(), headers: new Map() });

export function createContextInner(opts: {
  deps: AppDeps;
  session?: AppSession | null;
  token?: string | null;
  presentedToken?: string | null;
  noSession?: NoSessionReason | null;
  mfaChallenge?: string | null;
  meta?: Partial<RequestMeta>;
  response?: ResponseState;
  closing?: AbortSignal;
}): Context {
  const session = opts.session ?? null;
  return {
    deps: opts.deps,
    session,
    token: opts.token ?? null,
    presentedToken: opts.presentedToken ?? opts.token ?? null,
    noSession: session ? null : (opts.noSession ?? 'missing'),
    mfaChallenge: opts.mfaChallenge ?? null,
    meta: { ip: opts.meta?.ip ?? null, userAgent: opts.meta?.userAgent ?? null },
    response: opts.response ?? newResponseState(),
    closing: opts.closing ?? NEVER,
  };
}

/** The name of the MFA challenge cookie (same prefix rules as the session cookie). */
export const mfaCookieName = (secure: boolean) => (secure ? '__Host-tessera-mfa' : 'tessera-mfa');

declare module 'fastify' {
  interface FastifyRequest {
    /** Set for every /trpc request by http/trpc-plugin.ts. */
    tessera: ResponseState;
  }
}

const MAX_USER_AGENT = 512;

export function contextFactory(deps: AppDeps, closing?: AbortSignal) {
  const { sessions } = deps;
  const challengeCookie = mfaCookieName(deps.config.cookieSecure);

  return async function createContext({ req }: CreateFastifyContextOptions): Promise<Context> {
    const response = req.tessera;
    const header = req.headers.cookie;
    const meta: RequestMeta = {
      ip: req.ip ?? null,
      userAgent: req.headers['user-agent']?.slice(0, MAX_USER_AGENT) ?? null,
    };
    const challenge = readCookie(header, challengeCookie);
    const mfaChallenge = challenge.status === 'found' ? challenge.value : null;
    const read = readCookie(header, sessions.cookieName);

    if (read.status === 'duplicate') {
      // Two cookies of our name (one planted for a parent domain, say): adopt neither.
      response.cookies.set(sessions.cookieName, sessions.blankCookie());
      return createContextInner({ deps, noSession: 'duplicate', mfaChallenge, meta, response, closing });
    }
    if (read.status === 'missing') {
      return createContextInner({ deps, noSession: 'missing', mfaChallenge, meta, response, closing });
    }

    let result: Awaited<ReturnType<typeof sessions.validate>>;
    try {
      result = await sessions.validate(read.value);
    } catch (error) {
      throw new TRPCError({
        code: 'SERVICE_UNAVAILABLE',
        message: 'Session store unavailable',
        cause: error,
      });
    }
    if (result.cookie) response.cookies.set(result.cookie.name, result.cookie);
    if (!result.session) {
      return createContextInner({
        deps,
        noSession: result.reason,
        presentedToken: read.value,
        mfaChallenge,
        meta,
        response,
        closing,
      });
    }
    return createContextInner({
      deps,
      session: result.session,
      // The token in force: after a pending role change rotated it on this very request, the new one.
      token: result.token,
      presentedToken: result.token,
      mfaChallenge,
      meta,
      response,
      closing,
    });
  };
}
