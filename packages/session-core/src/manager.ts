import { blankCookie, type SessionCookie, sessionCookie } from './cookie.js';
import { newChallenge } from './dbsc/challenge.js';
import { registrationHeader } from './dbsc/headers.js';
import { createDeviceBinding, type DeviceBinding } from './device-binding.js';
import { SessionError, SessionLimitError, storeFailure } from './errors.js';
import { eventTypeFor, type SessionEvent } from './events.js';
import { type ResolvedOptions, resolveOptions, type SessionManagerOptions } from './options.js';
import { deadlines } from './policy.js';
import {
  type EndReason,
  REVOKE_REASONS,
  type RevokeReason,
  type SessionData,
  type StoredSession,
  type StoreMiss,
  type StorePolicy,
} from './store.js';
import { hashToken, isSessionId, newToken, parseToken, randomSessionId } from './tokens.js';

/** A live session as callers see it. Times are ms since epoch. */
export interface Session<TData extends object = SessionData> {
  /** Public id: safe to show, used to revoke. Never the token. */
  id: string;
  userId: string;
  data: TData;
  /** Sign-in time; never changes, not even on rotation. */
  createdAt: number;
  lastActivityAt: number;
  /** When the session ends unless used before: the nearer of the two deadlines. */
  idleExpiresAt: number;
  /** When the session ends whatever happens (createdAt + absoluteTimeout). */
  absoluteExpiresAt: number;
  userAgent: string | null;
  ip: string | null;
  /** When the session bound to a device key (DBSC); null while it is a plain bearer session. */
  deviceBoundAt: number | null;
}

/** Why there is no session: the token's shape, or what the store knows about it. */
export type InvalidReason = 'missing' | 'malformed' | StoreMiss;

export type ValidationResult<TData extends object = SessionData> =
  | {
      session: Session<TData>;
      /**
       * The token in force: the rotated one when this very call rotated it (a pending role change),
       * else the one presented. Use it for anything later in the request (rotate, patch, logout).
       */
      token: string;
      /** Set when this call rotated the token: write it (Set-Cookie), or the browser keeps the dead one. */
      cookie: SessionCookie | null;
    }
  | {
      session: null;
      reason: InvalidReason;
      token: null;
      /**
       * The clearing cookie for a dead token: write it when set. Null for `missing` (nothing to clear)
       * and for `rotated`: the browser most likely already holds the successor (a parallel request got
       * it) and clearing would sign it out.
       */
      cookie: SessionCookie | null;
    };

export interface CreateInput<TData extends object = SessionData> {
  userId: string;
  data?: TData;
  /** Informational, shown in session lists; capped at 512 characters. */
  userAgent?: string | null;
  /** Informational, shown in session lists; capped at 64 characters. */
  ip?: string | null;
}

export interface IssuedSession<TData extends object = SessionData> {
  /** The raw token: goes into Set-Cookie and nowhere else (not logs, not bodies, not URLs). */
  token: string;
  session: Session<TData>;
  /** The session cookie carrying `token`: write it (Set-Cookie). */
  cookie: SessionCookie;
  /**
   * With `deviceBinding` on, for a new session: the `Secure-Session-Registration` header value to send
   * with this response (the only chance the session gets to bind). Null otherwise, and on rotation (the
   * session keeps its binding).
   */
  registration: string | null;
}

export interface LogoutResult {
  /** True when a live session ended; false when the token opened none (logout is idempotent). */
  ended: boolean;
  /** The clearing cookie: always write it. */
  cookie: SessionCookie;
}

/**
 * The session manager: policy over a pluggable store. Stateless itself; safe to share across requests
 * and to run in many processes over one store. "No session" is a value; misuse throws SessionError and
 * a store failure throws SessionStoreError (answer 503: fail closed, never "signed out").
 */
export interface SessionManager<TData extends object = SessionData> {
  /** The cookie name, for reading the Cookie header (`readCookie(header, sessions.cookieName)`). */
  readonly cookieName: string;
  /** The resolved deadlines in ms, e.g. to show them in a UI. */
  readonly policy: Readonly<StorePolicy>;

  /**
   * Signs a user in: a new id and token, atomically within the per-user limit. Call it only after every
   * factor has passed, and log out any session the request carried first (session fixation).
   * @throws SessionLimitError under `onLimit: 'reject'` when the user is at the limit.
   * @throws SessionStoreError when the store can't answer (answer 503).
   */
  create(input: CreateInput<TData>): Promise<IssuedSession<TData>>;

  /**
   * The per-request check: one store round trip validates both deadlines and slides the idle one.
   * Write `result.cookie` when it is set; use `result.token` (never the cookie's value) afterwards.
   * @throws SessionStoreError when the store can't answer (answer 503).
   */
  validate(
    token: string | null | undefined,
    options?: {
      /** The bound cookie's value (`deviceBinding.cookieName`), when device binding is on. */
      bound?: string | null;
    },
  ): Promise<ValidationResult<TData>>;

  /**
   * A new token for the same session (after MFA, a password or role change, re-authentication): the old
   * token is dead at once (it then reads as `rotated`); id, createdAt, metadata and the limit slot stay.
   * `patch` is merged into the data in the same step. Null when the token isn't a live session.
   */
  rotate(token: string, patch?: Partial<TData>): Promise<IssuedSession<TData> | null>;

  /** Shallow-merges `patch` into this session's data without rotating (e.g. `{ authAt }`). */
  patch(token: string, patch: Partial<TData>): Promise<Session<TData> | null>;

  /**
   * Ends the session this token opens (reason and event `logged_out`). Also accepts the token the
   * last rotation replaced, so a logout racing a rotation still ends it. Always returns the clearing
   * cookie to write.
   */
  logout(token: string | null | undefined, options?: { context?: unknown }): Promise<LogoutResult>;

  /** The user's live sessions, oldest first (for a "where you're signed in" page). */
  list(userId: string): Promise<Session<TData>[]>;

  /**
   * Ends one session of this user by public id (reason `revoked` unless given). False when it isn't a
   * live session of theirs: a user can't end someone else's session by guessing an id.
   */
  revoke(
    userId: string,
    sessionId: string,
    options?: { reason?: RevokeReason; context?: unknown },
  ): Promise<boolean>;

  /**
   * Ends every live session of the user, or every one but `except` (the current one, say). After a
   * password change: `{ except: current.id, reason: 'password_changed' }`; when the account is
   * disabled: `{ reason: 'account_disabled' }`. Returns how many ended.
   *
   * `context` (here, on `revoke` and on `logout`): any value, handed back unchanged on the events this
   * call emits (`SessionEvent.context`): who acted, for an audit log, without the library knowing.
   */
  revokeAll(
    userId: string,
    options?: { except?: string; reason?: RevokeReason; context?: unknown },
  ): Promise<number>;

  /**
   * Merges `patch` into every live session of the user at once (an admin's role change): the very next
   * request of each sees the new data; with `rotate` (default true) each also gets a new token then.
   * Returns how many sessions were updated.
   */
  updateUser(userId: string, patch: Partial<TData>, options?: { rotate?: boolean }): Promise<number>;

  /** Deletes expired rows and old tombstones in stores that can't expire them alone (SQL); else 0. */
  sweep(): Promise<number>;

  /** The clearing cookie, for a response that must drop the cookie without a manager call. */
  blankCookie(): SessionCookie;

  /** The DBSC endpoints (registration, refresh), or null without the `deviceBinding` option. */
  readonly deviceBinding: DeviceBinding | null;
}

// Metadata is informational; cap it so a hostile User-Agent can't bloat every record.
const MAX_USER_AGENT = 512;
const MAX_IP = 64;
const MAX_USER_ID = 256;

/**
 * Creates the session manager. `TData` is the type of `session.data`: give `parseData` and it is
 * inferred from it; otherwise pass it explicitly (`createSessionManager<MyData>({ store })`), unchecked.
 */
export function createSessionManager<TData extends object = SessionData>(
  options: SessionManagerOptions<TData>,
): SessionManager<TData> {
  const config: ResolvedOptions<TData> = resolveOptions(options);
  const { store, clock, policy, cookie: cookieOptions, parseData } = config;
  const binding = config.deviceBinding;
  const storeName = store.name ?? 'session';
  const makeId = store.newSessionId?.bind(store);
  /** From the store when it shards by id (Redis), else unrelated to the user. */
  const newSessionId = (userId: string): string => {
    if (!makeId) return randomSessionId();
    const id = makeId({ userId });
    if (typeof id !== 'string' || !isSessionId(id)) {
      throw new SessionError(
        'INVALID_ARGUMENT',
        `${storeName} store: newSessionId must return 26 base64url characters`,
      );
    }
    return id;
  };

  const emit = (
    type: SessionEvent['type'],
    s: { id: string; userId: string },
    at: number,
    reason?: EndReason,
    context?: unknown,
    extra?: Pick<SessionEvent, 'refusal' | 'algorithm'>,
  ) => {
    if (!config.onEvent) return;
    try {
      const event: SessionEvent = reason
        ? { type, sessionId: s.id, userId: s.userId, reason, at }
        : { type, sessionId: s.id, userId: s.userId, at };
      if (context !== undefined) event.context = context;
      if (extra) Object.assign(event, extra);
      config.onEvent(event);
    } catch {
      // A listener's failure must not turn a committed store operation into an error.
    }
  };

  const emitEnded = (ended: StoredSession[], reason: EndReason, at: number, context?: unknown) => {
    for (const s of ended) emit(eventTypeFor(reason), s, at, reason, context);
  };

  /** The app's view of stored data: through `parseData` when given, else as stored. */
  const typed = (data: SessionData): TData => {
    if (!parseData) return data as unknown as TData;
    try {
      return parseData(data);
    } catch (error) {
      throw new SessionError('INVALID_DATA', 'session data refused by parseData', { cause: error });
    }
  };

  const view = (s: StoredSession, data: TData = typed(s.data)): Session<TData> => ({
    id: s.id,
    userId: s.userId,
    data,
    createdAt: s.createdAt,
    lastActivityAt: s.lastActivityAt,
    ...deadlines(s, policy),
    userAgent: s.userAgent,
    ip: s.ip,
    deviceBoundAt: s.boundAt ?? null,
  });

  const issue = (
    s: StoredSession,
    token: string,
    data?: TData,
    registration: string | null = null,
  ): IssuedSession<TData> => {
    const session = view(s, data);
    return {
      token,
      session,
      cookie: sessionCookie(cookieOptions, token, (session.absoluteExpiresAt - clock()) / 1000),
      registration,
    };
  };

  /**
   * Runs a store call, turning any failure into a typed SessionStoreError (fail closed). The one place
   * that does: stores, the built-in ones included, throw whatever their driver threw, and every store
   * call below goes through here. A SessionError a store throws on purpose passes as it is. Not
   * `newSessionId`: it is synchronous and does no I/O, so what it throws is a bug, not an outage.
   */
  const call = async <T>(operation: string, run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (error) {
      throw storeFailure(storeName, operation, error);
    }
  };

  const requireUserId = (userId: unknown): string => {
    if (typeof userId !== 'string' || userId.length === 0 || userId.length > MAX_USER_ID) {
      throw new SessionError(
        'INVALID_ARGUMENT',
        `userId must be a non-empty string of at most ${MAX_USER_ID} characters`,
      );
    }
    return userId;
  };

  const requireData = (data: unknown): SessionData => {
    if (data === null || typeof data !== 'object' || Array.isArray(data)) {
      throw new SessionError('INVALID_ARGUMENT', 'session data must be a plain object');
    }
    return data as SessionData;
  };

  const requireReason = (reason: unknown): RevokeReason => {
    if (!(REVOKE_REASONS as readonly unknown[]).includes(reason)) {
      throw new SessionError(
        'INVALID_ARGUMENT',
        `reason must be one of ${REVOKE_REASONS.map((r) => `'${r}'`).join(', ')}`,
      );
    }
    return reason as RevokeReason;
  };

  async function rotateParsed(id: string, tokenHash: Uint8Array, patch: SessionData | null) {
    const next = newToken(id);
    const now = clock();
    const rotated = await call('rotate', () =>
      store.rotate({ id, tokenHash, newTokenHash: next.hash, patch, now, policy }),
    );
    if (!rotated) return null;
    emit('rotated', rotated, now);
    return issue(rotated, next.token);
  }

  return {
    cookieName: cookieOptions.name,
    policy: Object.freeze({ ...policy }),

    async create(input) {
      const userId = requireUserId(input?.userId);
      const given = requireData(input.data ?? {});
      // Checked before it is stored: a refused value must not leave a session behind.
      const data = parseData ? typed(given) : (given as unknown as TData);
      const id = newSessionId(userId);
      const { token, hash } = newToken(id);
      const now = clock();
      // The one registration challenge this session will ever get, stored with it (docs/DBSC.md §4.5).
      const challenge = binding ? newChallenge() : null;
      const session = {
        id,
        tokenHash: hash,
        userId,
        data: requireData(data),
        createdAt: now,
        userAgent: input.userAgent ? input.userAgent.slice(0, MAX_USER_AGENT) : null,
        ip: input.ip ? input.ip.slice(0, MAX_IP) : null,
        ...(binding && challenge
          ? { deviceChallenge: { hash: hashToken(challenge), expiresAt: now + binding.challengeTtlMs } }
          : {}),
      };
      const limit = { max: config.maxSessionsPerUser, onLimit: config.onLimit };
      const outcome = await call('create', () => store.create({ session, limit, now, policy }));
      if (!outcome.ok) throw new SessionLimitError(limit.max, outcome.active);
      emitEnded(outcome.evicted, 'evicted', now);
      const stored: StoredSession = {
        id,
        userId,
        data: session.data,
        createdAt: now,
        lastActivityAt: now,
        userAgent: session.userAgent,
        ip: session.ip,
        rotatePending: false,
        boundAt: null,
      };
      emit('created', stored, now);
      const registration =
        binding && challenge
          ? registrationHeader({ algorithms: binding.algorithms, path: binding.registrationPath, challenge })
          : null;
      return issue(stored, token, data, registration);
    },

    async validate(token, options) {
      if (!token) return { session: null, reason: 'missing', token: null, cookie: null };
      const parsed = parseToken(token);
      if (!parsed)
        return { session: null, reason: 'malformed', token: null, cookie: blankCookie(cookieOptions) };
      // A bound cookie counts only for its own session; anything else is as good as none.
      const bound = options?.bound ? parseToken(options.bound) : null;
      const boundHash = bound && bound.id === parsed.id ? bound.hash : null;
      const now = clock();
      const outcome = await call('validate', () =>
        store.validate({ id: parsed.id, tokenHash: parsed.hash, boundHash, now, policy }),
      );
      if (!outcome.ok) {
        if (outcome.ended && outcome.session)
          emit('expired', outcome.session, now, outcome.reason as EndReason);
        // `rotated`: the browser likely holds the successor already. `device_unbound`: the session
        // lives on for its device, which may hold a good bound cookie a moment later. Clear neither.
        const keep = outcome.reason === 'rotated' || outcome.reason === 'device_unbound';
        const cookie = keep ? null : blankCookie(cookieOptions);
        return { session: null, reason: outcome.reason, token: null, cookie };
      }
      if (outcome.session.rotatePending) {
        // An admin changed this user's role: the new data already applies; give it a new token too.
        const rotated = await rotateParsed(parsed.id, parsed.hash, null);
        if (rotated) return { session: rotated.session, token: rotated.token, cookie: rotated.cookie };
        // A parallel request rotated first: this one was validated before that, so it may proceed.
      }
      return { session: view(outcome.session), token, cookie: null };
    },

    async rotate(token, patch) {
      const parsed = parseToken(token);
      if (!parsed) return null;
      return rotateParsed(parsed.id, parsed.hash, patch ? requireData(patch) : null);
    },

    async patch(token, patch) {
      const parsed = parseToken(token);
      if (!parsed) return null;
      const data = requireData(patch);
      const updated = await call('patch', () =>
        store.patch({ id: parsed.id, tokenHash: parsed.hash, patch: data, now: clock(), policy }),
      );
      return updated ? view(updated) : null;
    },

    async logout(token, options = {}) {
      const parsed = token ? parseToken(token) : null;
      let ended = false;
      if (parsed) {
        const now = clock();
        const session = await call('logout', () =>
          store.logout({ id: parsed.id, tokenHash: parsed.hash, now, policy }),
        );
        if (session) emit('logged_out', session, now, 'logged_out', options.context);
        ended = session !== null;
      }
      return { ended, cookie: blankCookie(cookieOptions) };
    },

    async list(userId) {
      const owner = requireUserId(userId);
      const sessions = await call('list', () => store.list({ userId: owner, now: clock(), policy }));
      return sessions.map((s) => view(s));
    },

    async revoke(userId, sessionId, options = {}) {
      const owner = requireUserId(userId);
      const reason = requireReason(options.reason ?? 'revoked');
      if (typeof sessionId !== 'string' || !isSessionId(sessionId)) return false;
      const now = clock();
      const ended = await call('revoke', () =>
        store.revoke({ userId: owner, id: sessionId, reason, now, policy }),
      );
      if (ended) emitEnded([ended], reason, now, options.context);
      return ended !== null;
    },

    async revokeAll(userId, options = {}) {
      const owner = requireUserId(userId);
      const reason = requireReason(options.reason ?? 'revoked');
      const exceptId = options.except ?? null;
      const now = clock();
      const ended = await call('revokeAll', () =>
        store.revokeAll({ userId: owner, exceptId, reason, now, policy }),
      );
      emitEnded(ended, reason, now, options.context);
      return ended.length;
    },

    async updateUser(userId, patch, options = {}) {
      const owner = requireUserId(userId);
      const data = requireData(patch);
      const rotate = options.rotate ?? true;
      return call('updateUser', () =>
        store.updateUser({ userId: owner, patch: data, rotate, now: clock(), policy }),
      );
    },

    async sweep() {
      const sweep = store.sweep?.bind(store);
      return sweep ? call('sweep', () => sweep({ now: clock(), policy })) : 0;
    },

    blankCookie: () => blankCookie(cookieOptions),

    deviceBinding: binding
      ? createDeviceBinding({
          store,
          clock,
          policy,
          options: binding,
          cookie: cookieOptions,
          call,
          expired: (s, reason, at) => emit('expired', s, at, reason as EndReason),
          bound: (s, algorithm, at, context) =>
            emit('device_bound', s, at, undefined, context, { algorithm }),
          refused: (s, refusal, at, context) =>
            emit('device_refused', s, at, undefined, context, { refusal }),
        })
      : null,
  };
}
