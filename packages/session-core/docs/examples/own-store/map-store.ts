// map-store.ts: a complete SessionStore over one in-process Map. It passes the contract suite, but it
// forgets everything on restart and isn't shared: it shows the interface, a real store persists.
import { timingSafeEqual } from 'node:crypto';
import type { EndReason, SessionStore, StoredSession, StorePolicy } from '@tessera/session-core';

interface Row {
  session: StoredSession;
  tokenHash: Uint8Array;
  /** The hash the last rotation replaced: reads as 'rotated', and may still log out. */
  previousHash: Uint8Array | null;
  ended: { reason: EndReason; at: number } | null;
}

/** The two clocks as the manager means them: live while `now` is strictly before both deadlines. */
function liveness(s: StoredSession, now: number, policy: StorePolicy) {
  if (now >= s.createdAt + policy.absoluteMs) return 'absolute_timeout'; // absolute wins when both passed
  if (now >= s.lastActivityAt + policy.idleMs) return 'idle_timeout';
  return 'live';
}

// Hashes are compared in full; constant time costs nothing here and is the habit to keep.
const same = (a: Uint8Array, b: Uint8Array | null) =>
  b !== null && a.length === b.length && timingSafeEqual(a, b);

export function mapStore(): SessionStore {
  const rows = new Map<string, Row>();
  // Callers get copies: what they do with a result must not change the store.
  const copy = (s: StoredSession): StoredSession => ({ ...s, data: structuredClone(s.data) });
  const isLive = (row: Row, now: number, policy: StorePolicy) =>
    row.ended === null && liveness(row.session, now, policy) === 'live';
  const end = (row: Row, reason: EndReason, now: number) => {
    row.ended = { reason, at: now };
    return copy(row.session);
  };
  /** The user's live rows, oldest first. A real store keeps a per-user index for this. */
  const liveOf = (userId: string, now: number, policy: StorePolicy) =>
    [...rows.values()]
      .filter((row) => row.session.userId === userId && isLive(row, now, policy))
      .sort((a, b) => a.session.createdAt - b.session.createdAt || (a.session.id < b.session.id ? -1 : 1));
  const liveByToken = (id: string, tokenHash: Uint8Array, now: number, policy: StorePolicy) => {
    const row = rows.get(id);
    return row && same(tokenHash, row.tokenHash) && isLive(row, now, policy) ? row : null;
  };

  // Every method runs to completion without awaiting, so each is atomic, as the contract demands of
  // any store (SQL: one statement or one transaction; Redis: one script; DynamoDB: conditional writes).
  return {
    name: 'map',

    async create({ session, limit, now, policy }) {
      // Atomic with the limit: parallel creates for one user must never leave more than limit.max live.
      const live = liveOf(session.userId, now, policy);
      const evicted: StoredSession[] = [];
      if (live.length >= limit.max) {
        if (limit.onLimit === 'reject') return { ok: false, active: live.map((row) => copy(row.session)) };
        const byActivity = [...live].sort((a, b) => a.session.lastActivityAt - b.session.lastActivityAt);
        for (const row of byActivity.slice(0, live.length - limit.max + 1))
          evicted.push(end(row, 'evicted', now));
      }
      // deviceChallenge is for stores with the device-binding methods (this one has none).
      const { tokenHash, deviceChallenge: _, ...fields } = session;
      rows.set(session.id, {
        session: {
          ...fields,
          data: structuredClone(fields.data),
          lastActivityAt: now,
          rotatePending: false,
          boundAt: null,
        },
        tokenHash,
        previousHash: null,
        ended: null,
      });
      return { ok: true, evicted };
    },

    async validate({ id, tokenHash, now, policy }) {
      const row = rows.get(id);
      if (!row) return { ok: false, reason: 'unknown' };
      if (!same(tokenHash, row.tokenHash)) {
        const rotated = row.ended === null && same(tokenHash, row.previousHash);
        return { ok: false, reason: rotated ? 'rotated' : 'unknown' };
      }
      if (row.ended) {
        // A tombstone says why for tombstoneMs, then the session is simply unknown.
        const gone = now >= row.ended.at + policy.tombstoneMs;
        return { ok: false, reason: gone ? 'unknown' : row.ended.reason };
      }
      const state = liveness(row.session, now, policy);
      // Past a deadline: end it now and say so once (`ended: true`), with the record, for the event.
      if (state !== 'live') return { ok: false, reason: state, ended: true, session: end(row, state, now) };
      row.session.lastActivityAt = now; // the touch, in the same step as the check
      return { ok: true, session: copy(row.session) };
    },

    async rotate({ id, tokenHash, newTokenHash, patch, now, policy }) {
      const row = liveByToken(id, tokenHash, now, policy);
      if (!row) return null; // of parallel rotations of one token, only the first finds it
      row.previousHash = row.tokenHash;
      row.tokenHash = newTokenHash;
      row.session.lastActivityAt = now;
      row.session.rotatePending = false;
      if (patch) row.session.data = { ...row.session.data, ...structuredClone(patch) };
      return copy(row.session);
    },

    async patch({ id, tokenHash, patch, now, policy }) {
      const row = liveByToken(id, tokenHash, now, policy);
      if (!row) return null;
      row.session.data = { ...row.session.data, ...structuredClone(patch) };
      return copy(row.session);
    },

    async logout({ id, tokenHash, now, policy }) {
      const row = rows.get(id);
      // The token the last rotation replaced logs out too: a logout that raced a rotation.
      const ours = row && (same(tokenHash, row.tokenHash) || same(tokenHash, row.previousHash));
      return row && ours && isLive(row, now, policy) ? end(row, 'logged_out', now) : null;
    },

    async revoke({ userId, id, reason, now, policy }) {
      const row = rows.get(id);
      // Only the owner's live session: an id of someone else's session ends nothing.
      if (!row || row.session.userId !== userId || !isLive(row, now, policy)) return null;
      return end(row, reason, now);
    },

    async revokeAll({ userId, exceptId, reason, now, policy }) {
      return liveOf(userId, now, policy)
        .filter((row) => row.session.id !== exceptId)
        .map((row) => end(row, reason, now));
    },

    async list({ userId, now, policy }) {
      return liveOf(userId, now, policy).map((row) => copy(row.session));
    },

    async updateUser({ userId, patch, rotate, now, policy }) {
      const live = liveOf(userId, now, policy);
      for (const row of live) {
        row.session.data = { ...row.session.data, ...structuredClone(patch) };
        if (rotate) row.session.rotatePending = true;
      }
      return live.length;
    },
  };
}
