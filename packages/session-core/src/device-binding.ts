/**
 * The two DBSC endpoints (docs/DBSC.md §4.5-§4.7), answered as data: status, headers, cookies, body.
 * The app routes `POST registrationPath` and `POST refreshPath` to `register` and `refresh` and writes
 * what they return; `./web` and `./node` do it in one call. Everything about a session's binding that
 * must be atomic (bind once, single-use challenges, the bound cookie) is the store's; this file is the
 * protocol around it: parsing what the browser sends, verifying proofs, choosing the answer.
 *
 * Implemented against W3C webappsec-dbsc, editor's draft at commit d3468112 (2026-02-17), and
 * Chromium's `net/device_bound_sessions` as of Chrome 145-156.
 */
import type { ResolvedCookieOptions, SessionCookie } from './cookie.js';
import { blankCookie } from './cookie.js';
import { newChallenge } from './dbsc/challenge.js';
import { sessionConfig, terminateConfig } from './dbsc/config.js';
import { challengeHeader, parseSessionIdHeader, parseSessionResponseHeader } from './dbsc/headers.js';
import { type DbscPublicJwk, proofChallenge, verifyRefreshProof, verifyRegistrationJwt } from './dbsc/jwt.js';
import type { DeviceRefusal } from './events.js';
import type { ResolvedDeviceBinding } from './options.js';
import { deadlines } from './policy.js';
import type { DeviceOutcome, SessionStore, StoredSession, StoreMiss, StorePolicy } from './store.js';
import { hashToken, newToken, type ParsedToken, parseToken } from './tokens.js';

/** What happened, for logs and metrics; `status` says what the browser is told. */
export type DeviceAnswerOutcome =
  /** Registration stored the key and set the first bound cookie. */
  | 'bound'
  /** A refresh proof verified: a new bound cookie. */
  | 'refreshed'
  /** 403 with a challenge to sign (the first leg of a refresh, or a stale/replayed proof). */
  | 'challenged'
  /** The browser is told to drop its bound session (`continue: false`): the session ended or never bound. */
  | 'ended'
  /** Refused (400, 401, 409): `reason` says why. */
  | 'refused';

export interface DeviceAnswer {
  status: 200 | 400 | 401 | 403 | 405 | 409;
  /** Response headers besides Set-Cookie (`Cache-Control`, `Content-Type`, `Secure-Session-Challenge`). */
  headers: Record<string, string>;
  /** Write each (Set-Cookie): the bound cookie, or the cookies that clear it and a dead session cookie. */
  cookies: SessionCookie[];
  /** JSON text, or null. */
  body: string | null;
  outcome: DeviceAnswerOutcome;
  /** Why, when it wasn't `bound` or `refreshed`: a store miss, a proof failure, `no_session`, ... */
  reason: string | null;
}

export interface DeviceBinding {
  /** The bound cookie's name: read it with `readCookie` and pass it to `validate(token, { bound })`. */
  readonly cookieName: string;
  readonly registrationPath: string;
  readonly refreshPath: string;
  /**
   * `POST registrationPath`: `token` from the session cookie, `response` the `Secure-Session-Response`
   * header. Binds the session to the key in the proof, once, against the challenge of its sign-in.
   * @throws SessionStoreError when the store can't answer (answer 503: the browser retries later).
   */
  register(input: {
    token: string | null | undefined;
    response: string | null | undefined;
    /** Handed back on the events this call emits (`SessionEvent.context`), e.g. who asked, from where. */
    context?: unknown;
  }): Promise<DeviceAnswer>;
  /**
   * `POST refreshPath`: `sessionId` is the `Sec-Secure-Session-Id` header, `response` the
   * `Secure-Session-Response` header (absent on the first leg, which gets a 403 challenge).
   * @throws SessionStoreError when the store can't answer (answer 503: the browser retries later).
   */
  refresh(input: {
    token: string | null | undefined;
    sessionId: string | null | undefined;
    response: string | null | undefined;
    /** Handed back on the events this call emits (`SessionEvent.context`). */
    context?: unknown;
  }): Promise<DeviceAnswer>;
  /** The cookie that clears the bound cookie (write it with the session's on logout). */
  blankCookie(): SessionCookie;
}

/** What the manager lends: its store, clock, policy, failure wrap and event emitter. */
export interface DeviceBindingDeps {
  store: SessionStore;
  clock: () => number;
  policy: StorePolicy;
  options: ResolvedDeviceBinding;
  cookie: ResolvedCookieOptions;
  call: <T>(operation: string, run: () => Promise<T>) => Promise<T>;
  /** A session ended because a device call found it past a deadline. */
  expired: (session: StoredSession, reason: StoreMiss, at: number) => void;
  bound: (session: StoredSession, alg: 'ES256' | 'RS256', at: number, context: unknown) => void;
  refused: (session: StoredSession, refusal: DeviceRefusal, at: number, context: unknown) => void;
}

// A request sent just before the browser drops the bound cookie still counts when it arrives.
const BOUND_COOKIE_SLACK_MS = 30_000;

const JSON_HEADERS = { 'Cache-Control': 'no-store', 'Content-Type': 'application/json' } as const;

export function createDeviceBinding(deps: DeviceBindingDeps): DeviceBinding {
  const { clock, policy, options, cookie, call } = deps;
  // resolveOptions checked that the store has all four.
  const store = deps.store as Required<
    Pick<SessionStore, 'bindDevice' | 'deviceChallenge' | 'deviceKey' | 'refreshDevice'>
  >;
  const attributes = { httpOnly: true, secure: cookie.secure, sameSite: cookie.sameSite, path: '/' } as const;
  const clearBound = (): SessionCookie => blankCookie({ ...attributes, name: options.cookieName });

  /** A fresh bound cookie for `session`, never outliving its absolute deadline. */
  const boundCookie = (value: string, session: StoredSession, now: number): SessionCookie => {
    const left = deadlines(session, policy).absoluteExpiresAt - now;
    const maxAge = Math.max(0, Math.floor(Math.min(options.boundCookieTtlMs, left) / 1000));
    return { name: options.cookieName, value, attributes: { ...attributes, maxAge } };
  };
  const configBody = (sessionId: string): string =>
    JSON.stringify(
      sessionConfig({
        sessionId,
        refreshUrl: options.refreshPath,
        origin: options.origin,
        cookieName: options.cookieName,
        cookieAttributes: attributes,
      }),
    );
  const newSecrets = (id: string, now: number) => {
    const bound = newToken(id);
    return {
      value: bound.token,
      bound: { hash: bound.hash, expiresAt: now + options.boundCookieTtlMs + BOUND_COOKIE_SLACK_MS },
      next: newChallengeFor(now),
    };
  };
  const newChallengeFor = (now: number) => {
    const value = newChallenge();
    return { value, hash: hashToken(value), expiresAt: now + options.challengeTtlMs };
  };

  const refuse = (status: 400 | 401 | 409, reason: string): DeviceAnswer => ({
    status,
    headers: { ...JSON_HEADERS },
    cookies: [],
    body: JSON.stringify({ error: reason }),
    outcome: 'refused',
    reason,
  });
  const challenge = (id: string, value: string, reason: string | null): DeviceAnswer => ({
    status: 403,
    headers: {
      'Cache-Control': 'no-store',
      'Secure-Session-Challenge': challengeHeader({ challenge: value, sessionId: id }),
    },
    cookies: [],
    body: null,
    outcome: 'challenged',
    reason,
  });
  /**
   * `continue: false`: the browser drops its bound session and releases the request it held. The
   * session cookie is left alone, so that request meets the ordinary answer: 401 with the reason
   * (`revoked`, `idle_timeout`, ...), which also clears it, and the app can say why. The bound cookie
   * is cleared only when it is this session's: its name is shared by every session of the browser, so
   * an old bound session's refresh must not wipe the cookie of the one signed in since.
   */
  const terminate = (id: string, reason: string, clearBoundCookie: boolean): DeviceAnswer => ({
    status: 200,
    headers: { ...JSON_HEADERS },
    cookies: clearBoundCookie ? [clearBound()] : [],
    body: JSON.stringify(terminateConfig(id)),
    outcome: 'ended',
    reason,
  });
  const ended = (id: string, outcome: Extract<DeviceOutcome, { ok: false }>, now: number): DeviceAnswer => {
    if (outcome.ended && outcome.session) deps.expired(outcome.session, outcome.reason as StoreMiss, now);
    return terminate(id, outcome.reason, true);
  };
  /**
   * Whose session a refused registration was for, to put the refusal on their record; null when it
   * is no live session. Only refusals pay for these reads. A bound session answers `deviceKey`; an
   * unbound one is read with `validate`, which slides its idle clock: harmless, since whoever holds the
   * cookie of an unbound session can slide it with any request anyway.
   */
  const ownerOf = async (parsed: ParsedToken, now: number): Promise<StoredSession | null> => {
    const at = { id: parsed.id, tokenHash: parsed.hash, now, policy };
    const bound = await call('deviceKey', () => store.deviceKey(at));
    if (bound.ok) return bound.session;
    if (bound.reason !== 'not_bound') return null;
    const plain = await call('validate', () => deps.store.validate({ ...at, boundHash: null }));
    return plain.ok ? plain.session : null;
  };

  return {
    cookieName: options.cookieName,
    registrationPath: options.registrationPath,
    refreshPath: options.refreshPath,
    blankCookie: clearBound,

    async register({ token, response, context }) {
      const parsed = token ? parseToken(token) : null;
      if (!parsed) return refuse(401, 'no_session');
      const header = parseSessionResponseHeader(response);
      if (header.value === null) return refuse(400, `response_${header.reason}`);
      const jti = proofChallenge(header.value);
      if (jti === null) return refuse(400, 'malformed');
      const proof = await verifyRegistrationJwt(header.value, {
        expectedChallenge: jti,
        algorithms: options.algorithms,
      });
      const now = clock();
      if (!proof.ok) {
        const owner = await ownerOf(parsed, now);
        if (owner) deps.refused(owner, 'bad_proof', now, context);
        return refuse(400, proof.reason);
      }
      const secrets = newSecrets(parsed.id, now);
      const outcome = await call('bindDevice', () =>
        store.bindDevice({
          id: parsed.id,
          tokenHash: parsed.hash,
          challengeHash: hashToken(jti),
          key: { jkt: proof.thumbprint, jwk: JSON.stringify(proof.publicJwk), alg: proof.alg },
          bound: secrets.bound,
          next: secrets.next,
          now,
          policy,
        }),
      );
      if (!outcome.ok) {
        if (outcome.reason === 'already_bound' || outcome.reason === 'bad_challenge') {
          const owner = await ownerOf(parsed, now);
          if (owner) deps.refused(owner, outcome.reason, now, context);
          return refuse(409, outcome.reason);
        }
        if (outcome.ended && outcome.session) deps.expired(outcome.session, outcome.reason as StoreMiss, now);
        // Not a live session: nothing to bind. The session cookie, if dead, is cleared by the next request.
        return refuse(401, outcome.reason);
      }
      deps.bound(outcome.session, proof.alg, now, context);
      // No Secure-Session-Challenge here: a production deployment (Report URI) saw Chrome fail the
      // registration when one came with it; the first refresh asks for a challenge instead (403).
      return {
        status: 200,
        headers: { ...JSON_HEADERS },
        cookies: [boundCookie(secrets.value, outcome.session, now)],
        body: configBody(parsed.id),
        outcome: 'bound',
        reason: null,
      };
    },

    async refresh({ token, sessionId, response, context }) {
      const idHeader = parseSessionIdHeader(sessionId);
      if (idHeader.value === null) return refuse(400, `session_id_${idHeader.reason}`);
      const id = idHeader.value;
      const parsed = token ? parseToken(token) : null;
      // No session cookie, or one of another session (an older bound session of this browser): end
      // the browser's bound session; nothing is written and no session cookie is touched.
      if (!parsed || parsed.id !== id) return terminate(id, parsed ? 'other_session' : 'no_session', false);
      const at = { id, tokenHash: parsed.hash, policy };
      const now = clock();

      const reissue = async (reason: string | null): Promise<DeviceAnswer> => {
        const next = newChallengeFor(now);
        const stored = await call('deviceChallenge', () =>
          store.deviceChallenge({ ...at, now, challenge: { hash: next.hash, expiresAt: next.expiresAt } }),
        );
        return stored.ok ? challenge(id, next.value, reason) : ended(id, stored, now);
      };

      if (response === null || response === undefined || response.trim() === '') return reissue(null);
      const header = parseSessionResponseHeader(response);
      if (header.value === null) return refuse(400, `response_${header.reason}`);
      const found = await call('deviceKey', () => store.deviceKey({ ...at, now }));
      if (!found.ok) return ended(id, found, now);
      const jti = proofChallenge(header.value);
      const proof =
        jti === null
          ? ({ ok: false, reason: 'malformed' } as const)
          : await verifyRefreshProof(header.value, {
              publicJwk: JSON.parse(found.key.jwk) as DbscPublicJwk,
              expectedChallenge: jti,
            });
      if (!proof.ok) {
        deps.refused(
          found.session,
          proof.reason === 'bad_signature' ? 'foreign_key' : 'bad_proof',
          now,
          context,
        );
        return refuse(400, proof.reason);
      }
      const secrets = newSecrets(id, now);
      const outcome = await call('refreshDevice', () =>
        store.refreshDevice({
          ...at,
          now,
          jkt: found.key.jkt,
          challengeHash: hashToken(jti!),
          bound: secrets.bound,
          next: secrets.next,
        }),
      );
      if (!outcome.ok) {
        // A replayed proof, or one for a challenge a later 403 replaced: sign a new one. Never a cookie.
        if (outcome.reason === 'bad_challenge') return reissue('bad_challenge');
        if (outcome.reason === 'wrong_key') {
          deps.refused(found.session, 'foreign_key', now, context);
          return refuse(400, 'wrong_key');
        }
        return ended(id, outcome, now);
      }
      return {
        status: 200,
        headers: {
          ...JSON_HEADERS,
          'Secure-Session-Challenge': challengeHeader({ challenge: secrets.next.value, sessionId: id }),
        },
        cookies: [boundCookie(secrets.value, outcome.session, now)],
        body: configBody(id),
        outcome: 'refreshed',
        reason: null,
      };
    },
  };
}
