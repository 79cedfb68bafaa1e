import { SessionConfigError } from '../errors.js';
import { liveness } from '../policy.js';
import type {
  CreateOutcome,
  DeviceKey,
  DeviceOutcome,
  EndReason,
  SessionStore,
  StoredSecret,
  StoredSession,
  StorePolicy,
  ValidateOutcome,
} from '../store.js';
import { constantTimeEqual } from '../tokens.js';

interface Entry {
  session: StoredSession;
  hash: Uint8Array;
  previousHash: Uint8Array | null;
  ended: { reason: EndReason; at: number } | null;
  /** The one DBSC challenge: the registration one from create, then the next one for a refresh. */
  challenge: StoredSecret | null;
  /** Device binding (DBSC): set together by bindDevice, never cleared while the session lives. */
  key: DeviceKey | null;
  bound: StoredSecret | null;
  previousBound: StoredSecret | null;
}

type DeviceMiss = Extract<DeviceOutcome, { ok: false }>;

/**
 * A process-local store for unit tests and the contract suite's reference. It forgets everything on
 * restart and is not shared between processes, so it refuses to exist in production.
 * Each method runs synchronously to completion, which makes every operation atomic.
 */
export function memoryStore(): SessionStore & { size(): number } {
  if (process.env.NODE_ENV === 'production') {
    throw new SessionConfigError(
      'memoryStore is for tests only: use redisStore, postgresStore or pgliteStore in production',
    );
  }
  const entries = new Map<string, Entry>();

  const copy = (s: StoredSession): StoredSession => ({ ...s, data: structuredClone(s.data) });
  const isLive = (e: Entry, now: number, policy: StorePolicy) =>
    !e.ended && liveness(e.session, now, policy) === 'live';

  const end = (e: Entry, reason: EndReason, now: number): StoredSession => {
    e.ended = { reason, at: now };
    // A tombstone keeps no device secrets: nothing can bind or refresh it any more.
    e.challenge = e.bound = e.previousBound = null;
    return copy(e.session);
  };

  /** Ends dead sessions as the real stores do, and drops tombstones past their time. */
  const settle = (e: Entry, now: number, policy: StorePolicy) => {
    if (e.ended) {
      if (now >= e.ended.at + policy.tombstoneMs) entries.delete(e.session.id);
      return;
    }
    const state = liveness(e.session, now, policy);
    if (state !== 'live') end(e, state, now);
  };

  const liveOf = (userId: string, now: number, policy: StorePolicy): Entry[] => {
    const out: Entry[] = [];
    for (const e of entries.values()) {
      if (e.session.userId !== userId) continue;
      settle(e, now, policy);
      if (!e.ended) out.push(e);
    }
    return out.sort(
      (a, b) => a.session.createdAt - b.session.createdAt || (a.session.id < b.session.id ? -1 : 1),
    );
  };

  const liveByToken = (id: string, hash: Uint8Array, now: number, policy: StorePolicy): Entry | null => {
    const e = entries.get(id);
    if (!e || !constantTimeEqual(e.hash, hash)) return null;
    return isLive(e, now, policy) ? e : null;
  };

  const secret = (s: StoredSecret): StoredSecret => ({
    hash: Uint8Array.from(s.hash),
    expiresAt: s.expiresAt,
  });
  const fresh = (s: StoredSecret | null, hash: Uint8Array, now: number) =>
    s !== null && now < s.expiresAt && constantTimeEqual(s.hash, hash);

  /** validate's bound rule: an unbound session passes; a bound one needs a fresh bound cookie or the grace. */
  const boundRequest = (e: Entry, boundHash: Uint8Array | null, now: number, policy: StorePolicy) => {
    if (e.session.boundAt === null) return true;
    if (boundHash && (fresh(e.bound, boundHash, now) || fresh(e.previousBound, boundHash, now))) return true;
    return now < e.session.boundAt + policy.bindingGraceMs;
  };

  /**
   * The checks every device call starts with, as validate makes them but accepting the token the last
   * rotation replaced too (a refresh may race a rotation, as a logout may). Ends a dead session.
   */
  const deviceEntry = (
    id: string,
    tokenHash: Uint8Array,
    now: number,
    policy: StorePolicy,
  ): { entry: Entry } | { miss: DeviceMiss } => {
    const e = entries.get(id);
    const ours =
      e &&
      (constantTimeEqual(e.hash, tokenHash) ||
        (e.previousHash !== null && constantTimeEqual(e.previousHash, tokenHash)));
    if (!e || !ours) return { miss: { ok: false, reason: 'unknown' } };
    if (e.ended) {
      settle(e, now, policy);
      return { miss: { ok: false, reason: entries.has(id) ? e.ended.reason : 'unknown' } };
    }
    const state = liveness(e.session, now, policy);
    if (state !== 'live')
      return { miss: { ok: false, reason: state, ended: true, session: end(e, state, now) } };
    return { entry: e };
  };

  return {
    name: 'memory',
    size: () => entries.size,

    async create({ session, limit, now, policy }): Promise<CreateOutcome> {
      const live = liveOf(session.userId, now, policy);
      const evicted: StoredSession[] = [];
      if (live.length >= limit.max) {
        if (limit.onLimit === 'reject') return { ok: false, active: live.map((e) => copy(e.session)) };
        const byActivity = [...live].sort((a, b) => a.session.lastActivityAt - b.session.lastActivityAt);
        for (const e of byActivity.slice(0, live.length - limit.max + 1))
          evicted.push(end(e, 'evicted', now));
      }
      const { tokenHash, deviceChallenge, ...rest } = session;
      entries.set(session.id, {
        session: {
          ...rest,
          data: structuredClone(session.data),
          lastActivityAt: now,
          rotatePending: false,
          boundAt: null,
        },
        hash: tokenHash,
        previousHash: null,
        ended: null,
        challenge: deviceChallenge ? secret(deviceChallenge) : null,
        key: null,
        bound: null,
        previousBound: null,
      });
      return { ok: true, evicted };
    },

    async validate({ id, tokenHash, boundHash, now, policy }): Promise<ValidateOutcome> {
      const e = entries.get(id);
      if (!e) return { ok: false, reason: 'unknown' };
      if (!constantTimeEqual(e.hash, tokenHash)) {
        if (e.previousHash && constantTimeEqual(e.previousHash, tokenHash) && !e.ended)
          return { ok: false, reason: 'rotated' };
        return { ok: false, reason: 'unknown' };
      }
      if (e.ended) {
        settle(e, now, policy);
        return entries.has(id) ? { ok: false, reason: e.ended.reason } : { ok: false, reason: 'unknown' };
      }
      const state = liveness(e.session, now, policy);
      if (state !== 'live') return { ok: false, reason: state, ended: true, session: end(e, state, now) };
      // A copied session cookie without the bound one must not keep a bound session alive: no touch.
      if (!boundRequest(e, boundHash ?? null, now, policy)) return { ok: false, reason: 'device_unbound' };
      e.session.lastActivityAt = now;
      return { ok: true, session: copy(e.session) };
    },

    async rotate({ id, tokenHash, newTokenHash, patch, now, policy }) {
      const e = liveByToken(id, tokenHash, now, policy);
      if (!e) return null;
      e.previousHash = e.hash;
      e.hash = newTokenHash;
      e.session.lastActivityAt = now;
      e.session.rotatePending = false;
      if (patch) e.session.data = { ...e.session.data, ...structuredClone(patch) };
      return copy(e.session);
    },

    async patch({ id, tokenHash, patch, now, policy }) {
      const e = liveByToken(id, tokenHash, now, policy);
      if (!e) return null;
      e.session.data = { ...e.session.data, ...structuredClone(patch) };
      return copy(e.session);
    },

    async logout({ id, tokenHash, now, policy }) {
      // The token a rotation just replaced ends the session too (a logout that raced a rotation).
      const e = entries.get(id);
      const ours =
        e &&
        (constantTimeEqual(e.hash, tokenHash) ||
          (e.previousHash && constantTimeEqual(e.previousHash, tokenHash)));
      return e && ours && isLive(e, now, policy) ? end(e, 'logged_out', now) : null;
    },

    async revoke({ userId, id, reason, now, policy }) {
      const e = entries.get(id);
      if (!e || e.session.userId !== userId || !isLive(e, now, policy)) return null;
      return end(e, reason, now);
    },

    async revokeAll({ userId, exceptId, reason, now, policy }) {
      return liveOf(userId, now, policy)
        .filter((e) => e.session.id !== exceptId)
        .map((e) => end(e, reason, now));
    },

    async list({ userId, now, policy }) {
      return liveOf(userId, now, policy).map((e) => copy(e.session));
    },

    async updateUser({ userId, patch, rotate, now, policy }) {
      const live = liveOf(userId, now, policy);
      for (const e of live) {
        e.session.data = { ...e.session.data, ...structuredClone(patch) };
        if (rotate) e.session.rotatePending = true;
      }
      return live.length;
    },

    async bindDevice({
      id,
      tokenHash,
      challengeHash,
      key,
      bound,
      next,
      now,
      policy,
    }): Promise<DeviceOutcome> {
      const found = deviceEntry(id, tokenHash, now, policy);
      if ('miss' in found) return found.miss;
      const e = found.entry;
      if (e.session.boundAt !== null) return { ok: false, reason: 'already_bound' };
      if (!fresh(e.challenge, challengeHash, now)) return { ok: false, reason: 'bad_challenge' };
      e.key = { ...key };
      e.session.boundAt = now;
      e.bound = secret(bound);
      e.previousBound = null;
      e.challenge = secret(next);
      return { ok: true, session: copy(e.session) };
    },

    async deviceChallenge({ id, tokenHash, challenge, now, policy }): Promise<DeviceOutcome> {
      const found = deviceEntry(id, tokenHash, now, policy);
      if ('miss' in found) return found.miss;
      const e = found.entry;
      if (e.session.boundAt === null) return { ok: false, reason: 'not_bound' };
      e.challenge = secret(challenge);
      return { ok: true, session: copy(e.session) };
    },

    async deviceKey({ id, tokenHash, now, policy }) {
      const found = deviceEntry(id, tokenHash, now, policy);
      if ('miss' in found) return found.miss;
      const e = found.entry;
      if (e.session.boundAt === null || !e.key) return { ok: false, reason: 'not_bound' };
      return { ok: true, key: { ...e.key }, session: copy(e.session) };
    },

    async refreshDevice({
      id,
      tokenHash,
      jkt,
      challengeHash,
      bound,
      next,
      now,
      policy,
    }): Promise<DeviceOutcome> {
      const found = deviceEntry(id, tokenHash, now, policy);
      if ('miss' in found) return found.miss;
      const e = found.entry;
      if (e.session.boundAt === null || !e.key) return { ok: false, reason: 'not_bound' };
      if (!constantTimeEqual(e.key.jkt, jkt)) return { ok: false, reason: 'wrong_key' };
      if (!fresh(e.challenge, challengeHash, now)) return { ok: false, reason: 'bad_challenge' };
      e.previousBound = e.bound;
      e.bound = secret(bound);
      e.challenge = secret(next);
      return { ok: true, session: copy(e.session) };
    },
  };
}
