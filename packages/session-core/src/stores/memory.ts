import { SessionConfigError } from '../errors.js';
import { liveness } from '../policy.js';
import type {
  CreateOutcome,
  EndReason,
  SessionStore,
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
}

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

  /** Ends dead sessions as the real stores do, and drops tombstones past their time. */
  const settle = (e: Entry, now: number, policy: StorePolicy) => {
    if (e.ended) {
      if (now >= e.ended.at + policy.tombstoneMs) entries.delete(e.session.id);
      return;
    }
    const state = liveness(e.session, now, policy);
    if (state !== 'live') e.ended = { reason: state, at: now };
  };

  const end = (e: Entry, reason: EndReason, now: number): StoredSession => {
    e.ended = { reason, at: now };
    return copy(e.session);
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
      const { tokenHash, ...rest } = session;
      entries.set(session.id, {
        session: { ...rest, data: structuredClone(session.data), lastActivityAt: now, rotatePending: false },
        hash: tokenHash,
        previousHash: null,
        ended: null,
      });
      return { ok: true, evicted };
    },

    async validate({ id, tokenHash, now, policy }): Promise<ValidateOutcome> {
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
  };
}
