import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import {
  type EndReason,
  type NewSession,
  REVOKE_REASONS,
  type SessionData,
  type SessionStore,
  type StorePolicy,
} from '../store.js';
import { hashToken, isSessionId, newToken, randomSessionId } from '../tokens.js';
import { runDeviceBindingContract } from './contract-device.js';

import type { TestApi, TestFn } from './test-api.js';

export type { TestApi, TestFn };

export interface ContractOptions {
  /** Shown in test names. */
  name: string;
  /** Called once; every test uses fresh random user ids, so one store serves the whole suite. */
  setup: () => Promise<{ store: SessionStore; teardown?: () => Promise<void> }>;
  test: TestApi;
  /** Parallel creates in the limit race. Default 200. */
  parallelCreates?: number;
}

/** Hooks of either naming, with the long timeout passed where the runner takes one. */
function hooks(test: TestApi): { beforeAll: (fn: TestFn) => void; afterAll: (fn: TestFn) => void } {
  if ('beforeAll' in test) {
    return {
      beforeAll: (fn) => void test.beforeAll(fn, 60_000),
      afterAll: (fn) => void test.afterAll(fn, 60_000),
    };
  }
  return { beforeAll: (fn) => void test.before(fn), afterAll: (fn) => void test.after(fn) };
}

const MINUTE = 60_000;
const policy: StorePolicy = {
  idleMs: 30 * MINUTE,
  absoluteMs: 24 * 60 * MINUTE,
  tombstoneMs: 60 * MINUTE,
  bindingGraceMs: 10_000,
};
const evictOldest = { max: 3, onLimit: 'evict-oldest' } as const;
const reject = { max: 3, onLimit: 'reject' } as const;

/**
 * The contract every SessionStore passes. It speaks to the store directly, with `now` values chosen
 * around the real clock (so stores that expire keys with relative TTLs behave), and checks the
 * behaviour the manager relies on: deadlines at their exact boundaries, tombstone reasons, rotation,
 * the per-user limit under parallel creates, and that no operation can bring an ended session back.
 *
 * @example
 * import { describe, it, beforeAll, afterAll } from 'vitest'; // or { describe, it, before, after } from 'node:test'
 * runSessionStoreContract({ name: 'my store', setup: async () => ({ store: myStore() }),
 *   test: { describe, it, beforeAll, afterAll } });
 */
export function runSessionStoreContract(options: ContractOptions): void {
  const { describe, it } = options.test;
  const { beforeAll, afterAll } = hooks(options.test);
  let store: SessionStore;
  let teardown: (() => Promise<void>) | undefined;
  const T0 = Date.now();

  interface Made {
    input: NewSession;
    token: string;
    hash: Uint8Array;
  }
  /** A session id as the manager makes it: from the store when it makes ids, else random. */
  const newSessionId = (userId: string) => store.newSessionId?.({ userId }) ?? randomSessionId();
  const make = (userId: string, at = T0, data: SessionData = { role: 'user' }): Made => {
    const id = newSessionId(userId);
    const { token, hash } = newToken(id);
    const input: NewSession = {
      id,
      tokenHash: hash,
      userId,
      data,
      createdAt: at,
      userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Test/1.0',
      ip: '203.0.113.7',
    };
    return { input, token, hash };
  };
  const create = async (
    userId: string,
    at = T0,
    data?: SessionData,
    limit: { max: number; onLimit: 'evict-oldest' | 'reject' } = evictOldest,
  ) => {
    const m = make(userId, at, data);
    const outcome = await store.create({ session: m.input, limit, now: at, policy });
    assert.ok(outcome.ok, 'create under the limit succeeds');
    return { ...m, outcome };
  };
  const user = () => `user-${randomUUID()}`;
  /** `hash` with only its last byte changed: equal to it on the first 248 bits. */
  const nearMiss = (hash: Uint8Array) => {
    const forged = Uint8Array.from(hash);
    forged[31] = (forged[31]! + 1) % 256;
    return forged;
  };
  const reasonOf = async (m: Made, at: number) => {
    const v = await store.validate({ id: m.input.id, tokenHash: m.hash, now: at, policy });
    return v.ok ? 'live' : v.reason;
  };
  /** Replaces the token of session `id` (the one hashing to `tokenHash`), data unchanged. */
  const rotate = (id: string, tokenHash: Uint8Array, newTokenHash: Uint8Array, now: number) =>
    store.rotate({ id, tokenHash, newTokenHash, patch: null, now, policy });
  const liveIds = async (userId: string, at: number) =>
    (await store.list({ userId, now: at, policy })).map((s) => s.id).sort();

  describe(`session store contract: ${options.name}`, () => {
    beforeAll(async () => {
      ({ store, teardown } = await options.setup());
    });
    afterAll(async () => {
      await teardown?.();
    });

    describe('create and validate', () => {
      it('returns what was stored and slides lastActivityAt', async () => {
        const u = user();
        const data = {
          role: 'admin',
          permissions: ['a', 'b'],
          nested: { n: 1, empty: [] },
          text: 'ünïcode ✓',
        };
        const s = await create(u, T0, data);
        assert.deepEqual(s.outcome, { ok: true, evicted: [] });
        const v = await store.validate({ id: s.input.id, tokenHash: s.hash, now: T0 + MINUTE, policy });
        assert.ok(v.ok);
        assert.deepEqual(v.session, {
          id: s.input.id,
          userId: u,
          data,
          createdAt: T0,
          lastActivityAt: T0 + MINUTE,
          userAgent: s.input.userAgent,
          ip: s.input.ip,
          rotatePending: false,
          boundAt: null,
        });
      });

      it('stores null metadata as null', async () => {
        const m = make(user());
        m.input.userAgent = null;
        m.input.ip = null;
        assert.ok((await store.create({ session: m.input, limit: evictOldest, now: T0, policy })).ok);
        const v = await store.validate({ id: m.input.id, tokenHash: m.hash, now: T0, policy });
        assert.ok(v.ok);
        assert.equal(v.session.userAgent, null);
        assert.equal(v.session.ip, null);
      });

      it('session ids are 26 base64url characters, distinct even for one user', async () => {
        const u = user();
        const ids = Array.from({ length: 50 }, () => newSessionId(u));
        for (const id of ids) assert.ok(isSessionId(id), id);
        assert.equal(new Set(ids).size, ids.length);
      });

      it('knows nothing of an unknown id or a wrong secret for a known id', async () => {
        const s = await create(user());
        const other = make(s.input.userId);
        assert.equal(await reasonOf(other, T0), 'unknown');
        const forged = hashToken(`${s.input.id}.${'A'.repeat(43)}`);
        const v = await store.validate({ id: s.input.id, tokenHash: forged, now: T0, policy });
        assert.deepEqual(v, { ok: false, reason: 'unknown' });
        assert.equal(await reasonOf(s, T0), 'live', 'a forged secret does not harm the real session');
      });
    });

    describe('deadlines at their exact boundaries', () => {
      it('idle: live 1 ms before lastActivity + idle, expired at it, and reported once as ended', async () => {
        const s = await create(user());
        assert.equal(await reasonOf(s, T0 + 10 * MINUTE), 'live');
        const touched = T0 + 10 * MINUTE;
        assert.equal(await reasonOf(s, touched + policy.idleMs - 1), 'live');
        const last = touched + policy.idleMs - 1;
        const end = await store.validate({
          id: s.input.id,
          tokenHash: s.hash,
          now: last + policy.idleMs,
          policy,
        });
        assert.equal(end.ok, false);
        assert.ok(!end.ok);
        assert.equal(end.reason, 'idle_timeout');
        assert.equal(end.ended, true);
        assert.equal(end.session?.id, s.input.id);
        assert.equal(end.session?.userId, s.input.userId);
        const again = await store.validate({
          id: s.input.id,
          tokenHash: s.hash,
          now: last + policy.idleMs + 1,
          policy,
        });
        assert.ok(!again.ok);
        assert.equal(again.reason, 'idle_timeout');
        assert.ok(!again.ended, 'only the first miss ends it');
      });

      it('an expired session is never revived by a later, earlier-dated touch', async () => {
        const s = await create(user());
        assert.equal(await reasonOf(s, T0 + policy.idleMs), 'idle_timeout');
        assert.equal(await reasonOf(s, T0 + 1), 'idle_timeout');
      });

      it('absolute: fixed from login, not extended by activity', async () => {
        const s = await create(user());
        for (let at = T0 + 20 * MINUTE; at < T0 + policy.absoluteMs; at += 20 * MINUTE) {
          assert.equal(await reasonOf(s, at), 'live', `live at +${(at - T0) / MINUTE} min`);
        }
        assert.equal(await reasonOf(s, T0 + policy.absoluteMs - 1), 'live');
        assert.equal(await reasonOf(s, T0 + policy.absoluteMs), 'absolute_timeout');
      });

      it('absolute wins when both deadlines have passed', async () => {
        const s = await create(user());
        assert.equal(await reasonOf(s, T0 + policy.absoluteMs + policy.idleMs), 'absolute_timeout');
      });
    });

    describe('rotate', () => {
      it('issues a new secret, kills the old one at once, keeps id, createdAt, metadata and slot', async () => {
        const u = user();
        const a = await create(u, T0);
        await create(u, T0 + 1);
        await create(u, T0 + 2);
        const next = newToken(a.input.id);
        const r = await store.rotate({
          id: a.input.id,
          tokenHash: a.hash,
          newTokenHash: next.hash,
          patch: { mfa: true },
          now: T0 + MINUTE,
          policy,
        });
        assert.ok(r);
        assert.equal(r.id, a.input.id);
        assert.equal(r.createdAt, T0);
        assert.equal(r.lastActivityAt, T0 + MINUTE);
        assert.equal(r.userAgent, a.input.userAgent);
        assert.equal(r.ip, a.input.ip);
        assert.deepEqual(r.data, { role: 'user', mfa: true });
        assert.equal(await reasonOf(a, T0 + MINUTE), 'rotated');
        assert.equal(await reasonOf({ ...a, hash: next.hash }, T0 + MINUTE), 'live');
        assert.equal((await liveIds(u, T0 + MINUTE)).length, 3, 'rotation takes no extra slot');
        assert.equal(await rotate(a.input.id, a.hash, newToken(a.input.id).hash, T0 + MINUTE), null);
      });

      it('keeps the absolute deadline of the original login', async () => {
        const s = await create(user());
        const next = newToken(s.input.id);
        assert.ok(await rotate(s.input.id, s.hash, next.hash, T0 + MINUTE));
        const rotated = { ...s, hash: next.hash };
        for (let at = T0 + 20 * MINUTE; at < T0 + policy.absoluteMs; at += 20 * MINUTE)
          await reasonOf(rotated, at);
        assert.equal(await reasonOf(rotated, T0 + policy.absoluteMs - 1), 'live');
        assert.equal(await reasonOf(rotated, T0 + policy.absoluteMs), 'absolute_timeout');
      });

      it('refuses to rotate an ended or expired session', async () => {
        const s = await create(user());
        assert.equal(await rotate(s.input.id, s.hash, newToken(s.input.id).hash, T0 + policy.idleMs), null);
        const t = await create(user());
        assert.ok(await store.logout({ id: t.input.id, tokenHash: t.hash, now: T0, policy }));
        assert.equal(await rotate(t.input.id, t.hash, newToken(t.input.id).hash, T0), null);
      });

      it('parallel rotations of one token yield exactly one live successor', async () => {
        const s = await create(user());
        const nexts = Array.from({ length: 20 }, () => newToken(s.input.id));
        const results = await Promise.all(nexts.map((n) => rotate(s.input.id, s.hash, n.hash, T0 + 1)));
        const winners = nexts.filter((_, i) => results[i] !== null);
        assert.equal(winners.length, 1);
        for (const n of nexts) {
          const expected = n === winners[0] ? 'live' : 'unknown';
          assert.equal(await reasonOf({ ...s, hash: n.hash }, T0 + 2), expected);
        }
      });
    });

    describe('patch', () => {
      it('shallow-merges data of a live session only', async () => {
        const s = await create(user(), T0, { role: 'user', keep: 1 });
        const p = await store.patch({
          id: s.input.id,
          tokenHash: s.hash,
          patch: { authAt: T0 + 5, role: 'user' },
          now: T0 + 5,
          policy,
        });
        assert.deepEqual(p?.data, { role: 'user', keep: 1, authAt: T0 + 5 });
        const v = await store.validate({ id: s.input.id, tokenHash: s.hash, now: T0 + 6, policy });
        assert.ok(v.ok);
        assert.deepEqual(v.session.data, { role: 'user', keep: 1, authAt: T0 + 5 });
        assert.equal(
          await store.patch({
            id: s.input.id,
            tokenHash: newToken(s.input.id).hash,
            patch: { x: 1 },
            now: T0,
            policy,
          }),
          null,
        );
        assert.equal(
          await store.patch({
            id: s.input.id,
            tokenHash: s.hash,
            patch: { x: 1 },
            now: T0 + 6 + policy.idleMs,
            policy,
          }),
          null,
        );
      });
    });

    describe('ending sessions', () => {
      it('logout needs the token and leaves a tombstone', async () => {
        const s = await create(user());
        assert.equal(
          await store.logout({ id: s.input.id, tokenHash: newToken(s.input.id).hash, now: T0, policy }),
          null,
        );
        const ended = await store.logout({ id: s.input.id, tokenHash: s.hash, now: T0 + 1, policy });
        assert.equal(ended?.id, s.input.id);
        assert.equal(await reasonOf(s, T0 + 2), 'logged_out');
        assert.equal(await store.logout({ id: s.input.id, tokenHash: s.hash, now: T0 + 3, policy }), null);
        assert.deepEqual(await liveIds(s.input.userId, T0 + 3), []);
      });

      it('logout with the token a rotation just replaced still ends the session (logout racing a rotation)', async () => {
        const s = await create(user());
        const next = newToken(s.input.id);
        assert.ok(await rotate(s.input.id, s.hash, next.hash, T0));
        const ended = await store.logout({ id: s.input.id, tokenHash: s.hash, now: T0 + 1, policy });
        assert.equal(ended?.id, s.input.id);
        assert.equal(await reasonOf({ ...s, hash: next.hash }, T0 + 2), 'logged_out');
        assert.deepEqual(await liveIds(s.input.userId, T0 + 2), []);
        // Only the one token before the current one: two rotations back ends nothing.
        const t = await create(user());
        const t1 = newToken(t.input.id);
        const t2 = newToken(t.input.id);
        await rotate(t.input.id, t.hash, t1.hash, T0);
        await rotate(t.input.id, t1.hash, t2.hash, T0 + 1);
        assert.equal(await store.logout({ id: t.input.id, tokenHash: t.hash, now: T0 + 2, policy }), null);
        assert.equal(await reasonOf({ ...t, hash: t2.hash }, T0 + 3), 'live');
      });

      it('logout compares the full hash, of the current token and of the one a rotation replaced', async () => {
        // A forged token whose hash equals the real one on all but the last byte (a stand-in for any
        // prefix or hint a store might keep) must end nothing; the real previous token still does.
        const s = await create(user());
        const next = newToken(s.input.id);
        assert.ok(await rotate(s.input.id, s.hash, next.hash, T0));
        assert.equal(
          await store.logout({ id: s.input.id, tokenHash: nearMiss(s.hash), now: T0 + 1, policy }),
          null,
        );
        assert.equal(
          await store.logout({ id: s.input.id, tokenHash: nearMiss(next.hash), now: T0 + 1, policy }),
          null,
        );
        assert.equal(await reasonOf({ ...s, hash: nearMiss(s.hash) }, T0 + 2), 'unknown');
        assert.equal(await reasonOf({ ...s, hash: next.hash }, T0 + 2), 'live');
        assert.equal(await reasonOf(s, T0 + 2), 'rotated');
        const ended = await store.logout({ id: s.input.id, tokenHash: s.hash, now: T0 + 3, policy });
        assert.equal(ended?.id, s.input.id);
        assert.equal(await reasonOf({ ...s, hash: next.hash }, T0 + 4), 'logged_out');
      });

      it("revoke ends only the owner's live session (no IDOR)", async () => {
        const u = user();
        const s = await create(u);
        assert.equal(
          await store.revoke({ userId: user(), id: s.input.id, reason: 'revoked', now: T0, policy }),
          null,
        );
        assert.equal(await reasonOf(s, T0), 'live');
        const ended = await store.revoke({
          userId: u,
          id: s.input.id,
          reason: 'revoked',
          now: T0 + 1,
          policy,
        });
        assert.equal(ended?.id, s.input.id);
        assert.equal(ended?.userId, u);
        assert.equal(await reasonOf(s, T0 + 2), 'revoked');
        assert.equal(
          await store.revoke({ userId: u, id: s.input.id, reason: 'revoked', now: T0 + 3, policy }),
          null,
        );
        assert.equal(
          await store.revoke({ userId: u, id: newSessionId(u), reason: 'revoked', now: T0 + 3, policy }),
          null,
        );
      });

      it('revokeAll ends every other live session with the given reason', async () => {
        const u = user();
        const [a, b, c] = [await create(u, T0), await create(u, T0 + 1), await create(u, T0 + 2)];
        const stranger = await create(user());
        const ended = await store.revokeAll({
          userId: u,
          exceptId: b.input.id,
          reason: 'password_changed',
          now: T0 + 10,
          policy,
        });
        assert.deepEqual(ended.map((s) => s.id).sort(), [a.input.id, c.input.id].sort());
        assert.equal(await reasonOf(a, T0 + 11), 'password_changed');
        assert.equal(await reasonOf(c, T0 + 11), 'password_changed');
        assert.equal(await reasonOf(b, T0 + 11), 'live');
        assert.equal(await reasonOf(stranger, T0 + 11), 'live');
        const all = await store.revokeAll({
          userId: u,
          exceptId: null,
          reason: 'revoked',
          now: T0 + 12,
          policy,
        });
        assert.deepEqual(
          all.map((s) => s.id),
          [b.input.id],
        );
        assert.deepEqual(await liveIds(u, T0 + 13), []);
      });

      // Each reason the manager accepts, through both methods: a store that encodes reasons (a code
      // table, an enum column, a CHECK constraint) must know every one of them.
      for (const reason of REVOKE_REASONS) {
        it(`revoke and revokeAll record reason '${reason}' and validate reports it`, async () => {
          const u = user();
          const [a, b, c] = [await create(u, T0), await create(u, T0 + 1), await create(u, T0 + 2)];
          const one = await store.revoke({ userId: u, id: a.input.id, reason, now: T0 + 10, policy });
          assert.equal(one?.id, a.input.id);
          assert.equal(await reasonOf(a, T0 + 11), reason);
          assert.equal(await reasonOf(b, T0 + 11), 'live');
          const all = await store.revokeAll({ userId: u, exceptId: null, reason, now: T0 + 12, policy });
          assert.deepEqual(all.map((s) => s.id).sort(), [b.input.id, c.input.id].sort());
          assert.deepEqual(await liveIds(u, T0 + 13), []);
          for (const m of [a, b, c]) assert.equal(await reasonOf(m, T0 + 13), reason);
        });
      }

      it('a rotated-away token reads as rotated, an ended one as its reason', async () => {
        const s = await create(user());
        const next = newToken(s.input.id);
        await rotate(s.input.id, s.hash, next.hash, T0);
        await store.revoke({
          userId: s.input.userId,
          id: s.input.id,
          reason: 'revoked',
          now: T0 + 1,
          policy,
        });
        assert.equal(await reasonOf({ ...s, hash: next.hash }, T0 + 2), 'revoked');
        assert.notEqual(await reasonOf(s, T0 + 2), 'live');
      });
    });

    describe('list', () => {
      it('lists live sessions only, oldest first, with current metadata', async () => {
        const u = user();
        const a = await create(u, T0);
        const b = await create(u, T0 + 1000);
        const c = await create(u, T0 + 2000);
        await store.logout({ id: c.input.id, tokenHash: c.hash, now: T0 + 3000, policy });
        await store.validate({ id: a.input.id, tokenHash: a.hash, now: T0 + 5000, policy });
        const list = await store.list({ userId: u, now: T0 + 6000, policy });
        assert.deepEqual(
          list.map((s) => s.id),
          [a.input.id, b.input.id],
        );
        assert.equal(list[0]?.lastActivityAt, T0 + 5000);
        assert.equal(list[1]?.createdAt, T0 + 1000);
        // b was last active at T0 + 1000: idle-expired first.
        assert.deepEqual(await liveIds(u, T0 + 1000 + policy.idleMs), [a.input.id]);
        assert.deepEqual(await store.list({ userId: user(), now: T0, policy }), []);
      });
    });

    describe('per-user limit', () => {
      it('evict-oldest ends the least recently active session', async () => {
        const u = user();
        const a = await create(u, T0);
        const b = await create(u, T0 + 1);
        const c = await create(u, T0 + 2);
        await store.validate({ id: a.input.id, tokenHash: a.hash, now: T0 + 10, policy });
        const d = await create(u, T0 + 20);
        assert.ok(d.outcome.ok);
        assert.deepEqual(
          d.outcome.evicted.map((s) => s.id),
          [b.input.id],
        );
        assert.equal(await reasonOf(b, T0 + 21), 'evicted');
        assert.deepEqual(await liveIds(u, T0 + 21), [a.input.id, c.input.id, d.input.id].sort());
      });

      it('reject refuses, lists the live sessions and stores nothing', async () => {
        const u = user();
        const made = [
          await create(u, T0, undefined, reject),
          await create(u, T0 + 1, undefined, reject),
          await create(u, T0 + 2, undefined, reject),
        ];
        const extra = make(u, T0 + 3);
        const outcome = await store.create({ session: extra.input, limit: reject, now: T0 + 3, policy });
        assert.ok(!outcome.ok);
        assert.deepEqual(outcome.active.map((s) => s.id).sort(), made.map((m) => m.input.id).sort());
        assert.equal(await reasonOf(extra, T0 + 4), 'unknown');
        assert.equal((await liveIds(u, T0 + 4)).length, 3);
      });

      it('dead sessions do not count against the limit', async () => {
        const u = user();
        for (let i = 0; i < 3; i++) await create(u, T0 + i, undefined, reject);
        const later = T0 + policy.idleMs + 10;
        const fresh = await create(u, later, undefined, reject);
        assert.deepEqual(fresh.outcome, { ok: true, evicted: [] });
        assert.deepEqual(await liveIds(u, later), [fresh.input.id]);
      });

      for (const limit of [evictOldest, reject]) {
        it(`${limit.onLimit}: parallel creates for one user never exceed the limit`, async () => {
          const u = user();
          const n = options.parallelCreates ?? 200;
          const made = Array.from({ length: n }, (_, i) => make(u, T0 + i));
          const outcomes = await Promise.all(
            made.map((m, i) => store.create({ session: m.input, limit, now: T0 + i, policy })),
          );
          const at = T0 + n + 1;
          const live = await liveIds(u, at);
          assert.equal(live.length, 3, 'exactly the limit is live');
          const accepted = made.filter((_, i) => outcomes[i]?.ok);
          if (limit.onLimit === 'reject') assert.equal(accepted.length, 3);
          else assert.equal(accepted.length, n);
          let liveByValidate = 0;
          for (const m of made) if ((await reasonOf(m, at)) === 'live') liveByValidate++;
          assert.equal(liveByValidate, 3, 'the index (list) agrees with the live sessions');
          const acceptedIds = new Set(accepted.map((m) => m.input.id));
          assert.ok(
            live.every((id) => acceptedIds.has(id)),
            'only accepted sessions are live',
          );
        }, 120_000);
      }
    });

    describe('updateUser', () => {
      it('patches every live session, visible at once, and marks them for rotation', async () => {
        const u = user();
        const a = await create(u, T0, { role: 'admin', x: 1 });
        await create(u, T0 + 1, { role: 'admin', x: 2 });
        const dead = await create(u, T0 + 2, { role: 'admin' });
        await store.logout({ id: dead.input.id, tokenHash: dead.hash, now: T0 + 3, policy });
        assert.equal(
          await store.updateUser({ userId: u, patch: { role: 'user' }, rotate: true, now: T0 + 4, policy }),
          2,
        );
        await store.updateUser({ userId: u, patch: { flag: true }, rotate: true, now: T0 + 5, policy });
        const v = await store.validate({ id: a.input.id, tokenHash: a.hash, now: T0 + 6, policy });
        assert.ok(v.ok);
        assert.deepEqual(v.session.data, { role: 'user', x: 1, flag: true });
        assert.equal(v.session.rotatePending, true);
        const listed = await store.list({ userId: u, now: T0 + 6, policy });
        assert.deepEqual(
          listed.map((s) => s.data),
          [
            { role: 'user', x: 1, flag: true },
            { role: 'user', x: 2, flag: true },
          ],
        );
        const next = newToken(a.input.id);
        const r = await rotate(a.input.id, a.hash, next.hash, T0 + 7);
        assert.equal(r?.rotatePending, false);
        assert.deepEqual(r?.data, { role: 'user', x: 1, flag: true });
        const again = await store.validate({ id: a.input.id, tokenHash: next.hash, now: T0 + 8, policy });
        assert.ok(again.ok);
        assert.equal(again.session.rotatePending, false);
        assert.equal(await reasonOf(dead, T0 + 8), 'logged_out', 'an ended session stays ended');
        const quiet = await create(u, T0 + 9);
        assert.equal(
          await store.updateUser({ userId: u, patch: { role: 'user' }, rotate: false, now: T0 + 10, policy }),
          3,
        );
        const q = await store.validate({ id: quiet.input.id, tokenHash: quiet.hash, now: T0 + 11, policy });
        assert.ok(q.ok);
        assert.equal(q.session.rotatePending, false);
      });
    });

    describe('races', () => {
      for (const [name, kill] of [
        [
          'logout',
          (m: Made, at: number) => store.logout({ id: m.input.id, tokenHash: m.hash, now: at, policy }),
        ],
        [
          'revoke',
          (m: Made, at: number) =>
            store.revoke({ userId: m.input.userId, id: m.input.id, reason: 'revoked', now: at, policy }),
        ],
      ] as const) {
        it(`validate racing ${name} never resurrects the session`, async () => {
          const s = await create(user());
          const validations = Array.from({ length: 100 }, (_, i) =>
            store.validate({ id: s.input.id, tokenHash: s.hash, now: T0 + 10 + i, policy }),
          );
          const killed = kill(s, T0 + 50);
          await Promise.all([...validations, killed]);
          const expected: EndReason = name === 'revoke' ? 'revoked' : 'logged_out';
          assert.equal(await reasonOf(s, T0 + 200), expected);
          assert.deepEqual(await liveIds(s.input.userId, T0 + 200), []);
        });
      }
    });

    runDeviceBindingContract({ describe, it, store: () => store, T0, policy, user, make, create, nearMiss });
  });
}
