import { blankCookie, type SessionCookie, sessionCookie } from './cookie.js';
import { SessionError, SessionLimitError, storeFailure } from './errors.js';
import { eventTypeFor, type SessionEvent } from './events.js';
import { type ResolvedOptions, resolveOptions, type SessionManagerOptions } from './options.js';
import { deadlines } from './policy.js';
import type { EndReason, SessionData, StoredSession, StoreMiss } from './store.js';
import { isSessionId, newToken, parseToken, randomSessionId } from './tokens.js';

/** A live session as callers see it. Times are ms since epoch. */
export interface Session<TData extends SessionData = SessionData> {
  id: string;
  userId: string;
  data: TData;
  createdAt: number;
  lastActivityAt: number;
  idleExpiresAt: number;
  absoluteExpiresAt: number;
  userAgent: string | null;
  ip: string | null;
}

/** Why there is no session: the token's shape, or what the store knows about it. */
export type InvalidReason = 'missing' | 'malformed' | StoreMiss;

export type ValidationResult<TData extends SessionData = SessionData> =
  /** `cookie` is set when the token was rotated on this request (a pending role change): write it. */
  | { session: Session<TData>; cookie?: SessionCookie }
  /**
   * `cookie` clears the dead cookie. It is absent for `missing`, and for `rotated`: the browser most
   * likely already holds the successor (a parallel request got it) and clearing would sign it out.
   */
  | { session: null; reason: InvalidReason; cookie?: SessionCookie };

export interface CreateInput<TData extends SessionData = SessionData> {
  userId: string;
  data?: TData;
  userAgent?: string | null;
  ip?: string | null;
}

export interface IssuedSession<TData extends SessionData = SessionData> {
  /** The raw token: goes into Set-Cookie and nowhere else (not logs, not bodies, not URLs). */
  token: string;
  session: Session<TData>;
  cookie: SessionCookie;
}

export type SessionManager<TData extends SessionData = SessionData> = ReturnType<
  typeof createSessionManager<TData>
>;

// Metadata is informational; cap it so a hostile User-Agent can't bloat every record.
const MAX_USER_AGENT = 512;
const MAX_IP = 64;
const MAX_USER_ID = 256;

/**
 * The session manager: policy over a pluggable store. Stateless itself; safe to share across requests
 * and to run in many processes over one store.
 */
export function createSessionManager<TData extends SessionData = SessionData>(
  options: SessionManagerOptions,
) {
  const config: ResolvedOptions = resolveOptions(options);
  const { store, clock, policy, cookie: cookieOptions } = config;
  const storeName = store.name ?? 'session';
  const makeId = store.newSessionId?.bind(store);
  /** From the store when it shards by id (Redis), else unrelated to the user. */
  const newSessionId = (userId: string): string => {
    if (!makeId) return randomSessionId();
    const id = makeId(userId);
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
  ) => {
    if (!config.onEvent) return;
    try {
      config.onEvent(
        reason
          ? { type, sessionId: s.id, userId: s.userId, reason, at }
          : { type, sessionId: s.id, userId: s.userId, at },
      );
    } catch {
      // A listener's failure must not turn a committed store operation into an error.
    }
  };

  const emitEnded = (ended: StoredSession[], reason: EndReason, at: number) => {
    for (const s of ended) emit(eventTypeFor(reason), s, at, reason);
  };

  const view = (s: StoredSession): Session<TData> => ({
    id: s.id,
    userId: s.userId,
    data: s.data as TData,
    createdAt: s.createdAt,
    lastActivityAt: s.lastActivityAt,
    ...deadlines(s, policy),
    userAgent: s.userAgent,
    ip: s.ip,
  });

  const issue = (s: StoredSession, token: string): IssuedSession<TData> => {
    const session = view(s);
    return {
      token,
      session,
      cookie: sessionCookie(cookieOptions, token, (session.absoluteExpiresAt - clock()) / 1000),
    };
  };

  /** Runs a store call, turning any driver failure into a typed SessionStoreError (fail closed). */
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

  async function rotateParsed(id: string, hash: Uint8Array, patch: SessionData | null) {
    const next = newToken(id);
    const now = clock();
    const rotated = await call('rotate', () => store.rotate(id, hash, next.hash, patch, now, policy));
    if (!rotated) return null;
    emit('rotated', rotated, now);
    return issue(rotated, next.token);
  }

  return {
    /** The cookie name, for reading the Cookie header (see `readCookie`). */
    cookieName: cookieOptions.name,
    /** The resolved deadlines in ms, e.g. to show them in a UI. */
    policy: Object.freeze({ ...policy }),

    /**
     * Signs a user in: a new id and token, atomically within the per-user limit. Call it only after
     * every factor has passed, and destroy any session the request carried first (fixation).
     * @throws SessionLimitError under `onLimit: 'reject'` when the user is at the limit.
     */
    async create(input: CreateInput<TData>): Promise<IssuedSession<TData>> {
      const userId = requireUserId(input?.userId);
      const data = requireData(input.data ?? {});
      const id = newSessionId(userId);
      const { token, hash } = newToken(id);
      const now = clock();
      const record = {
        id,
        tokenHash: hash,
        userId,
        data,
        createdAt: now,
        userAgent: input.userAgent ? input.userAgent.slice(0, MAX_USER_AGENT) : null,
        ip: input.ip ? input.ip.slice(0, MAX_IP) : null,
      };
      const limit = { max: config.maxSessionsPerUser, onLimit: config.onLimit };
      const outcome = await call('create', () => store.create(record, limit, now, policy));
      if (!outcome.ok) throw new SessionLimitError(limit.max, outcome.active);
      emitEnded(outcome.evicted, 'evicted', now);
      const stored: StoredSession = { ...record, lastActivityAt: now, rotatePending: false };
      emit('created', stored, now);
      return issue(stored, token);
    },

    /**
     * The per-request check: one store round trip validates both deadlines and slides the idle one.
     * "No session" is a value with a reason; only a store failure throws (SessionStoreError: fail closed).
     */
    async validate(token: string | null | undefined): Promise<ValidationResult<TData>> {
      if (!token) return { session: null, reason: 'missing' };
      const parsed = parseToken(token);
      if (!parsed) return { session: null, reason: 'malformed', cookie: blankCookie(cookieOptions) };
      const now = clock();
      const outcome = await call('validate', () => store.validate(parsed.id, parsed.hash, now, policy));
      if (!outcome.ok) {
        if (outcome.ended && outcome.session)
          emit('expired', outcome.session, now, outcome.reason as EndReason);
        return outcome.reason === 'rotated'
          ? { session: null, reason: 'rotated' }
          : { session: null, reason: outcome.reason, cookie: blankCookie(cookieOptions) };
      }
      if (outcome.session.rotatePending) {
        // An admin changed this user's role: the new data already applies; give it a new token too.
        const rotated = await rotateParsed(parsed.id, parsed.hash, null);
        if (rotated) return { session: rotated.session, cookie: rotated.cookie };
        // A parallel request rotated first: this one was validated before that, so it may proceed.
      }
      return { session: view(outcome.session) };
    },

    /**
     * New token for the same session (after login upgrade, MFA, password or role change): the old token
     * is dead at once (it then reads as `rotated`); id, createdAt, metadata and the limit slot stay.
     * Returns null when the token isn't a live session.
     */
    async rotate(token: string, patch?: Partial<TData>): Promise<IssuedSession<TData> | null> {
      const parsed = parseToken(token);
      if (!parsed) return null;
      return rotateParsed(parsed.id, parsed.hash, patch ? requireData(patch) : null);
    },

    /** Shallow-merges `patch` into this session's data without rotating (e.g. `{ authAt }`). */
    async patch(token: string, patch: Partial<TData>): Promise<Session<TData> | null> {
      const parsed = parseToken(token);
      if (!parsed) return null;
      const data = requireData(patch);
      const updated = await call('patch', () => store.patch(parsed.id, parsed.hash, data, clock(), policy));
      return updated ? view(updated) : null;
    },

    /** Logout: ends the session on the server. Always returns the clearing cookie to write. */
    async destroy(token: string | null | undefined): Promise<{ ended: boolean; cookie: SessionCookie }> {
      const parsed = token ? parseToken(token) : null;
      let ended = false;
      if (parsed) {
        const now = clock();
        const session = await call('end', () => store.end(parsed.id, parsed.hash, 'logged_out', now, policy));
        if (session) emit('destroyed', session, now, 'logged_out');
        ended = session !== null;
      }
      return { ended, cookie: blankCookie(cookieOptions) };
    },

    /** Live sessions of a user, oldest first. */
    async list(userId: string): Promise<Session<TData>[]> {
      const id = requireUserId(userId);
      const sessions = await call('list', () => store.list(id, clock(), policy));
      return sessions.map(view);
    },

    /** Ends one session of this user by public id. False when it isn't a live session of theirs. */
    async revoke(userId: string, sessionId: string, reason: EndReason = 'revoked'): Promise<boolean> {
      const owner = requireUserId(userId);
      if (typeof sessionId !== 'string' || !isSessionId(sessionId)) return false;
      const now = clock();
      const ended = await call('revoke', () => store.revoke(owner, sessionId, reason, now, policy));
      if (ended) emitEnded([ended], reason, now);
      return ended !== null;
    },

    /** Ends every other session of the user (e.g. `reason: 'password_changed'`). Returns how many. */
    async revokeAllExcept(
      userId: string,
      keepSessionId: string,
      reason: EndReason = 'revoked',
    ): Promise<number> {
      const owner = requireUserId(userId);
      const now = clock();
      const ended = await call('revokeAll', () => store.revokeAll(owner, keepSessionId, reason, now, policy));
      emitEnded(ended, reason, now);
      return ended.length;
    },

    /** Ends every session of the user. Returns how many. */
    async revokeAll(userId: string, reason: EndReason = 'revoked'): Promise<number> {
      const owner = requireUserId(userId);
      const now = clock();
      const ended = await call('revokeAll', () => store.revokeAll(owner, null, reason, now, policy));
      emitEnded(ended, reason, now);
      return ended.length;
    },

    /**
     * Applies `patch` to every live session of the user at once (an admin's role change): the very next
     * request of each sees the new data; with `rotate` (default) each also gets a new token then.
     */
    async updateUserSessions(
      userId: string,
      patch: Partial<TData>,
      options: { rotate?: boolean } = {},
    ): Promise<number> {
      const owner = requireUserId(userId);
      const data = requireData(patch);
      return call('updateUser', () => store.updateUser(owner, data, options.rotate ?? true, clock(), policy));
    },

    /** Deletes expired rows and old tombstones in stores that can't expire them alone (SQL). */
    async sweep(): Promise<number> {
      const sweep = store.sweep?.bind(store);
      return sweep ? call('sweep', () => sweep(clock(), policy)) : 0;
    },

    /** The clearing cookie (for a response that must drop a cookie without a manager call). */
    blankCookie: (): SessionCookie => blankCookie(cookieOptions),
  };
}
