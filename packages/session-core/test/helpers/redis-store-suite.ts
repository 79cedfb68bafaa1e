/**
 * Redis-specific behaviour of redisStore, run against a single node (redis.test.ts) and a 3-master
 * cluster (redis-cluster.test.ts). Everything the generic contract can't see: the key layout, TTLs,
 * index hygiene, atomicity under parallel load and the Lua JSON merge.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import fc from 'fast-check';
import type { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SessionError, SessionStoreError } from '../../src/errors.js';
import { createSessionManager } from '../../src/manager.js';
import type { NewSession, SessionData, SessionStore, StorePolicy } from '../../src/store.js';
import { redisKeys, redisStore } from '../../src/stores/redis/index.js';
import { shardTagger } from '../../src/stores/redis/shard-tag.js';
import { encodeUserAgent } from '../../src/stores/redis/user-agent-codec.js';
import { newToken, prefixedSessionId } from '../../src/tokens.js';

export const MIN = 60_000;
export const HOUR = 60 * MIN;
export const T0 = 1_700_000_000_000;
export const POLICY: StorePolicy = {
  idleMs: 30 * MIN,
  absoluteMs: 24 * HOUR,
  tombstoneMs: HOUR,
  bindingGraceMs: 10_000,
};
/** A real Chrome-on-Windows user agent, 110 characters: longer than one 64-byte hash piece. */
export const UA =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/99.0.0.0 Safari/537.36';

export const newUser = () => `user-${randomUUID()}`;

/** The shard-tag secret of every store these tests build (a deployment's is generated once and kept). */
export const TAG_SECRET = randomBytes(32);
const tagOf = shardTagger(TAG_SECRET);

/** A token hash as the Redis store keeps it: base64url text (43 characters). */
export const hashText = (hash: Uint8Array) => Buffer.from(hash).toString('base64url');

/** A session of `userId` with an id as `redisStore({ tagSecret: TAG_SECRET }).newSessionId` makes it. */
export function newSession(userId: string, createdAt = T0, data: SessionData = { role: 'member' }) {
  const id = prefixedSessionId(tagOf(userId));
  const { token, hash } = newToken(id);
  const session: NewSession = {
    id,
    tokenHash: hash,
    userId,
    data,
    createdAt,
    userAgent: UA,
    ip: '203.0.113.7',
  };
  return { id, token, hash, session };
}

export interface SuiteEnv {
  client: Redis | Cluster;
  /** SCRIPT FLUSH on every node that holds data. */
  flushScripts(): Promise<void>;
  /** Deletes every key under the prefix (a shared server); private servers just die. */
  cleanup?(prefix: string): Promise<void>;
}

export function redisStoreSuite(name: string, getEnv: () => SuiteEnv): void {
  describe(`redisStore on ${name}`, () => {
    let client: Redis | Cluster;
    let env: SuiteEnv;
    let store: SessionStore;
    const prefix = `t${randomBytes(4).toString('hex')}:`;
    const keys = redisKeys({ prefix, tagSecret: TAG_SECRET });
    const evict = { max: 3, onLimit: 'evict-oldest' } as const;

    beforeAll(() => {
      env = getEnv();
      client = env.client;
      store = redisStore({ client, prefix, tagSecret: TAG_SECRET });
    });

    /** Creates a session at `at` under the default limit and returns its handles. */
    async function login(userId: string, at = T0, data?: SessionData) {
      const s = newSession(userId, at, data);
      const outcome = await store.create({ session: s.session, limit: evict, now: at, policy: POLICY });
      expect(outcome.ok).toBe(true);
      return s;
    }

    /** A hash field as stored, its 64-byte pieces (x, x1, x2, ...) joined. */
    const rawField = async (key: string, f: string): Promise<string | null> => {
      const all = await client.hgetallBuffer(key);
      if (!all[f]) return null;
      const parts = [all[f]];
      for (let k = 1; all[`${f}${k}`]; k++) parts.push(all[`${f}${k}`]!);
      return Buffer.concat(parts).toString();
    };

    /** The session ids in a user's index (members are ids without their tag, which the key carries). */
    const indexIds = async (userId: string) =>
      (await client.zrange(keys.userIndex(userId), 0, -1)).map((member) => keys.tag(userId) + member).sort();
    const liveIds = async (userId: string, now: number) =>
      (await store.list({ userId, now, policy: POLICY })).map((s) => s.id).sort();

    describe('key layout', () => {
      it('stores one compact hash per session and a sorted-set index per user, in one slot', async () => {
        const user = newUser();
        const s = await login(user, T0, { role: 'admin' });
        const key = keys.session(s.id);
        expect(key).toBe(`${prefix}s:{${s.id.slice(0, 4)}}${s.id.slice(4)}`);
        expect(keys.userIndex(user)).toBe(`${prefix}u:{${keys.tag(user)}}${user}`);
        expect(s.id.slice(0, 4)).toBe(keys.tag(user));

        const raw = await client.hgetall(key);
        expect(Object.keys(raw).sort()).toEqual(['a', 'c', 'd', 'g', 'h', 'i', 'u']);
        expect(raw.h).toBe(hashText(s.hash));
        expect(raw.h).toMatch(/^[A-Za-z0-9_-]{43}$/);
        expect(raw.u).toBe(user);
        expect(raw.c).toBe(String(T0));
        expect(raw.a).toBe(String(T0));
        expect(raw.d).toBe('{"role":"admin"}');
        // The 110-character user agent is stored in its compact form: 8 bytes, one piece.
        expect(raw.g).toBe(encodeUserAgent(UA));
        expect(raw.g).toHaveLength(8);
        expect(await client.object('ENCODING', key)).toBe('listpack');
        expect(raw.i).toBe('203.0.113.7');
        // The index member is the id without its tag (the index key carries it).
        expect(await client.zrange(keys.userIndex(user), 0, -1, 'WITHSCORES')).toEqual([
          s.id.slice(4),
          String(T0),
        ]);
      });

      it('omits null metadata and keeps the distinction from empty strings', async () => {
        const user = newUser();
        const s = newSession(user);
        await store.create({
          session: { ...s.session, userAgent: null, ip: '' },
          limit: evict,
          now: T0,
          policy: POLICY,
        });
        expect(await client.hexists(keys.session(s.id), 'g')).toBe(0);
        const v = await store.validate({ id: s.id, tokenHash: s.hash, now: T0 + 1, policy: POLICY });
        expect(v.ok && v.session.userAgent).toBe(null);
        expect(v.ok && v.session.ip).toBe('');
      });

      it('splits long values into 64-byte pieces, joins them back byte-exactly, and drops stale pieces', async () => {
        const user = `${newUser()}-${'ü'.repeat(40)}`; // multi-byte characters across piece boundaries
        // Control characters (escaped by the user-agent codec) and dictionary words among them.
        const ua = `\x01\x1f${'€'.repeat(30)}😀\x00\t Mozilla/5.0 (${'x'.repeat(150)}Chrome/\x1e`;
        const big = { role: 'member', note: 'ß'.repeat(100), list: Array.from({ length: 20 }, (_, n) => n) };
        const s = newSession(user, T0, big);
        await store.create({
          session: { ...s.session, userAgent: ua },
          limit: evict,
          now: T0,
          policy: POLICY,
        });
        const key = keys.session(s.id);
        expect(Object.keys(await client.hgetall(key))).toEqual(
          expect.arrayContaining(['d1', 'd2', 'd3', 'g1', 'g3', 'u1']),
        );
        expect(await client.object('ENCODING', key)).toBe('listpack');
        const v = await store.validate({ id: s.id, tokenHash: s.hash, now: T0 + 1, policy: POLICY });
        expect(v.ok && v.session).toMatchObject({ userId: user, userAgent: ua, data: big });
        expect((await store.list({ userId: user, now: T0 + 1, policy: POLICY }))[0]).toMatchObject({
          userId: user,
          userAgent: ua,
          data: big,
        });
        // Shrinking d to a short value removes its old pieces.
        await store.patch({
          id: s.id,
          tokenHash: s.hash,
          patch: { note: '', list: [] },
          now: T0 + 2,
          policy: POLICY,
        });
        const fields = Object.keys(await client.hgetall(key));
        expect(fields.filter((f) => f.startsWith('d'))).toEqual(['d']);
        expect(await rawField(key, 'd')).toBe('{"role":"member","note":"","list":[]}');
        expect(
          await store.revoke({ userId: user, id: s.id, reason: 'revoked', now: T0 + 3, policy: POLICY }),
        ).toMatchObject({ userAgent: ua });
      });

      it('round-trips data far larger than one HSET can carry (300 KB)', async () => {
        const user = newUser();
        const big = { blob: 'x'.repeat(300_000) };
        const s = newSession(user, T0, big);
        await store.create({ session: s.session, limit: evict, now: T0, policy: POLICY });
        const v = await store.validate({ id: s.id, tokenHash: s.hash, now: T0 + 1, policy: POLICY });
        expect(v.ok && v.session.data).toEqual(big);
        const patched = await store.patch({
          id: s.id,
          tokenHash: s.hash,
          patch: { blob: 'y' },
          now: T0 + 2,
          policy: POLICY,
        });
        expect(patched?.data).toEqual({ blob: 'y' });
        expect(await client.hlen(keys.session(s.id))).toBeLessThan(10);
      });

      it('refuses a session id that was not made for this user (its shard tag differs)', async () => {
        const s = newSession(newUser());
        await expect(
          store.create({
            session: { ...s.session, userId: newUser() },
            limit: evict,
            now: T0,
            policy: POLICY,
          }),
        ).rejects.toMatchObject({
          code: 'INVALID_ARGUMENT',
        });
      });
    });

    describe('user shard tag', () => {
      it('is keyed: the same secret gives the same tag after a restart, another secret another tag', async () => {
        const user = newUser();
        const a = await login(user);
        // A restart: a new store over a new copy of the same secret finds the user's sessions...
        const restarted = redisStore({ client, prefix, tagSecret: Buffer.from(TAG_SECRET) });
        const b = restarted.newSessionId({ userId: user });
        expect(b.slice(0, 4)).toBe(a.id.slice(0, 4));
        expect(
          (await restarted.list({ userId: user, now: T0 + 1, policy: POLICY })).map((x) => x.id),
        ).toEqual([a.id]);
        const input = { ...newSession(user, T0 + 2).session, id: b, tokenHash: newToken(b).hash };
        expect(
          (await restarted.create({ session: input, limit: evict, now: T0 + 2, policy: POLICY })).ok,
        ).toBe(true);
        expect(await indexIds(user)).toEqual([a.id, b].sort());
        // ...and the unkeyed SHA-256 of the user id is not the tag: it can't be computed without the secret.
        expect(a.id.slice(0, 4)).not.toBe(
          createHash('sha256').update(user).digest().subarray(0, 3).toString('base64url'),
        );
        // Under another secret the user's index is elsewhere: those sessions are not found by user.
        const other = redisStore({ client, prefix, tagSecret: randomBytes(32) });
        expect(other.newSessionId({ userId: user }).slice(0, 4)).not.toBe(a.id.slice(0, 4));
        expect(await other.list({ userId: user, now: T0 + 3, policy: POLICY })).toEqual([]);
      });
    });

    describe('validate', () => {
      it('touches: lastActivityAt = now, data and metadata returned', async () => {
        const user = newUser();
        const s = await login(user, T0, { role: 'member', n: 1 });
        const v = await store.validate({ id: s.id, tokenHash: s.hash, now: T0 + 5 * MIN, policy: POLICY });
        expect(v).toEqual({
          ok: true,
          session: {
            id: s.id,
            userId: user,
            data: { role: 'member', n: 1 },
            createdAt: T0,
            lastActivityAt: T0 + 5 * MIN,
            userAgent: UA,
            ip: '203.0.113.7',
            rotatePending: false,
            boundAt: null,
          },
        });
        expect(await client.hget(keys.session(s.id), 'a')).toBe(String(T0 + 5 * MIN));
      });

      it('answers unknown for a wrong token, an unknown id and a malformed id', async () => {
        const s = await login(newUser());
        expect(
          await store.validate({ id: s.id, tokenHash: newToken(s.id).hash, now: T0, policy: POLICY }),
        ).toEqual({
          ok: false,
          reason: 'unknown',
        });
        const other = newSession(newUser());
        expect(
          await store.validate({ id: other.id, tokenHash: other.hash, now: T0, policy: POLICY }),
        ).toEqual({
          ok: false,
          reason: 'unknown',
        });
        expect(await store.validate({ id: 'short{x}', tokenHash: s.hash, now: T0, policy: POLICY })).toEqual({
          ok: false,
          reason: 'unknown',
        });
      });

      it('idle deadline: live 1 ms before, ended exactly at lastActivityAt + idle', async () => {
        const s = await login(newUser());
        const at = T0 + 10 * MIN;
        expect((await store.validate({ id: s.id, tokenHash: s.hash, now: at, policy: POLICY })).ok).toBe(
          true,
        );
        expect(
          (await store.validate({ id: s.id, tokenHash: s.hash, now: at + POLICY.idleMs - 1, policy: POLICY }))
            .ok,
        ).toBe(true);
        const last = at + POLICY.idleMs - 1;
        const miss = await store.validate({
          id: s.id,
          tokenHash: s.hash,
          now: last + POLICY.idleMs,
          policy: POLICY,
        });
        expect(miss).toMatchObject({ ok: false, reason: 'idle_timeout', ended: true });
        expect(!miss.ok && miss.session?.lastActivityAt).toBe(last);
        // Reported as ended only once; afterwards it's a tombstone with the reason.
        expect(
          await store.validate({
            id: s.id,
            tokenHash: s.hash,
            now: last + POLICY.idleMs + 1,
            policy: POLICY,
          }),
        ).toEqual({
          ok: false,
          reason: 'idle_timeout',
        });
        // Never revived, even with a `now` that would have been inside the idle window.
        expect(await store.validate({ id: s.id, tokenHash: s.hash, now: last + 1, policy: POLICY })).toEqual({
          ok: false,
          reason: 'idle_timeout',
        });
      });

      it('absolute deadline: live 1 ms before, ended exactly at createdAt + absolute despite activity', async () => {
        const s = await login(newUser());
        for (let t = T0 + 20 * MIN; t < T0 + POLICY.absoluteMs; t += 20 * MIN) {
          expect((await store.validate({ id: s.id, tokenHash: s.hash, now: t, policy: POLICY })).ok).toBe(
            true,
          );
        }
        expect(
          (
            await store.validate({
              id: s.id,
              tokenHash: s.hash,
              now: T0 + POLICY.absoluteMs - 1,
              policy: POLICY,
            })
          ).ok,
        ).toBe(true);
        expect(
          await store.validate({ id: s.id, tokenHash: s.hash, now: T0 + POLICY.absoluteMs, policy: POLICY }),
        ).toMatchObject({
          ok: false,
          reason: 'absolute_timeout',
          ended: true,
        });
      });

      it('absolute_timeout wins when both deadlines have passed', async () => {
        const s = await login(newUser());
        expect(
          await store.validate({
            id: s.id,
            tokenHash: s.hash,
            now: T0 + POLICY.absoluteMs + HOUR,
            policy: POLICY,
          }),
        ).toMatchObject({
          ok: false,
          reason: 'absolute_timeout',
          ended: true,
        });
      });

      it('ending by deadline removes the session from the index and leaves a {h, e, t} tombstone', async () => {
        const user = newUser();
        const s = await login(user);
        const end = T0 + POLICY.idleMs;
        await store.validate({ id: s.id, tokenHash: s.hash, now: end, policy: POLICY });
        expect(await indexIds(user)).toEqual([]);
        const raw = await client.hgetall(keys.session(s.id));
        expect(Object.keys(raw).sort()).toEqual(['e', 'h', 't']);
        expect(raw.e).toBe('idle_timeout');
        expect(raw.t).toBe(String(end));
        // Only an 8-character hint of the hash: it picks the reason to report and opens nothing.
        expect(raw.h).toBe(hashText(s.hash).slice(0, 8));
      });
    });

    describe('TTLs follow the nearer deadline plus the tombstone time', () => {
      const near = async (key: string, expected: number) => {
        const pttl = await client.pttl(key);
        expect(pttl).toBeLessThanOrEqual(expected);
        expect(pttl).toBeGreaterThan(expected - 5_000);
      };

      it('on create, on touch, near the absolute deadline, for the index and for tombstones', async () => {
        const user = newUser();
        const s = await login(user);
        const key = keys.session(s.id);
        await near(key, POLICY.idleMs + POLICY.tombstoneMs);
        await near(keys.userIndex(user), POLICY.absoluteMs + POLICY.tombstoneMs);

        await store.validate({ id: s.id, tokenHash: s.hash, now: T0 + 10 * MIN, policy: POLICY });
        await near(key, POLICY.idleMs + POLICY.tombstoneMs);

        // 5 minutes before the absolute deadline the idle window is cut short by it.
        for (let t = T0 + 20 * MIN; t < T0 + POLICY.absoluteMs - 5 * MIN; t += 20 * MIN) {
          await store.validate({ id: s.id, tokenHash: s.hash, now: t, policy: POLICY });
        }
        await store.validate({
          id: s.id,
          tokenHash: s.hash,
          now: T0 + POLICY.absoluteMs - 5 * MIN,
          policy: POLICY,
        });
        await near(key, 5 * MIN + POLICY.tombstoneMs);

        const ended = await store.logout({
          id: s.id,
          tokenHash: s.hash,
          now: T0 + POLICY.absoluteMs - MIN,
          policy: POLICY,
        });
        expect(ended?.id).toBe(s.id);
        await near(key, POLICY.tombstoneMs);
      });

      it('expired sessions really vanish from Redis without a sweep (real clock, short policy)', async () => {
        const short: StorePolicy = { idleMs: 150, absoluteMs: 1000, tombstoneMs: 100, bindingGraceMs: 0 };
        const user = newUser();
        const now = Date.now();
        const s = newSession(user, now);
        await store.create({ session: s.session, limit: evict, now, policy: short });
        expect(await client.exists(keys.session(s.id))).toBe(1);
        await new Promise((resolve) => setTimeout(resolve, 400));
        expect(await client.exists(keys.session(s.id))).toBe(0);
        expect(await store.validate({ id: s.id, tokenHash: s.hash, now: Date.now(), policy: short })).toEqual(
          {
            ok: false,
            reason: 'unknown',
          },
        );
        // The next login prunes the stale member: the index holds exactly the live session.
        const next = newSession(user, Date.now());
        await store.create({ session: next.session, limit: evict, now: Date.now(), policy: short });
        expect(await indexIds(user)).toEqual([next.id]);
      });
    });

    describe('tombstones', () => {
      it('answer the end reason to the same token, unknown to others, and unknown after tombstoneMs', async () => {
        const s = await login(newUser());
        const endedAt = T0 + MIN;
        expect((await store.logout({ id: s.id, tokenHash: s.hash, now: endedAt, policy: POLICY }))?.id).toBe(
          s.id,
        );
        expect(
          await store.validate({ id: s.id, tokenHash: s.hash, now: endedAt + 1, policy: POLICY }),
        ).toEqual({
          ok: false,
          reason: 'logged_out',
        });
        expect(
          await store.validate({
            id: s.id,
            tokenHash: newToken(s.id).hash,
            now: endedAt + 1,
            policy: POLICY,
          }),
        ).toEqual({
          ok: false,
          reason: 'unknown',
        });
        expect(
          await store.validate({
            id: s.id,
            tokenHash: s.hash,
            now: endedAt + POLICY.tombstoneMs - 1,
            policy: POLICY,
          }),
        ).toEqual({
          ok: false,
          reason: 'logged_out',
        });
        expect(
          await store.validate({
            id: s.id,
            tokenHash: s.hash,
            now: endedAt + POLICY.tombstoneMs,
            policy: POLICY,
          }),
        ).toEqual({
          ok: false,
          reason: 'unknown',
        });
      });

      it('with tombstoneMs = 0 an ended session is simply deleted', async () => {
        const noTomb = { ...POLICY, tombstoneMs: 0 };
        const s = await login(newUser());
        await store.logout({ id: s.id, tokenHash: s.hash, now: T0 + 1, policy: noTomb });
        expect(await client.exists(keys.session(s.id))).toBe(0);
      });

      it('can never be revived by rotate, patch, end or revoke', async () => {
        const user = newUser();
        const s = await login(user);
        await store.revoke({ userId: user, id: s.id, reason: 'revoked', now: T0 + 1, policy: POLICY });
        expect(
          await store.rotate({
            id: s.id,
            tokenHash: s.hash,
            newTokenHash: newToken(s.id).hash,
            patch: null,
            now: T0 + 2,
            policy: POLICY,
          }),
        ).toBe(null);
        expect(
          await store.patch({ id: s.id, tokenHash: s.hash, patch: { x: 1 }, now: T0 + 2, policy: POLICY }),
        ).toBe(null);
        expect(await store.logout({ id: s.id, tokenHash: s.hash, now: T0 + 2, policy: POLICY })).toBe(null);
        expect(
          await store.revoke({ userId: user, id: s.id, reason: 'revoked', now: T0 + 2, policy: POLICY }),
        ).toBe(null);
        expect(await store.validate({ id: s.id, tokenHash: s.hash, now: T0 + 3, policy: POLICY })).toEqual({
          ok: false,
          reason: 'revoked',
        });
        expect(await store.list({ userId: user, now: T0 + 3, policy: POLICY })).toEqual([]);
      });
    });

    describe('rotate', () => {
      it('kills the old token (reads as rotated), keeps id/createdAt/metadata, merges data, touches', async () => {
        const user = newUser();
        const s = await login(user, T0, { role: 'member', mfa: false });
        const next = newToken(s.id);
        const at = T0 + 5 * MIN;
        const rotated = await store.rotate({
          id: s.id,
          tokenHash: s.hash,
          newTokenHash: next.hash,
          patch: { mfa: true },
          now: at,
          policy: POLICY,
        });
        expect(rotated).toEqual({
          id: s.id,
          userId: user,
          data: { role: 'member', mfa: true },
          createdAt: T0,
          lastActivityAt: at,
          userAgent: UA,
          ip: '203.0.113.7',
          rotatePending: false,
          boundAt: null,
        });
        expect(await store.validate({ id: s.id, tokenHash: s.hash, now: at + 1, policy: POLICY })).toEqual({
          ok: false,
          reason: 'rotated',
        });
        // p keeps the old hash in full: it reports 'rotated' and lets a logout with the old token end it.
        const raw = await client.hgetall(keys.session(s.id));
        expect(raw.h).toBe(hashText(next.hash));
        expect(raw.p).toBe(hashText(s.hash));
        const v = await store.validate({ id: s.id, tokenHash: next.hash, now: at + 1, policy: POLICY });
        expect(v.ok && v.session.data).toEqual({ role: 'member', mfa: true });
        // Same limit slot: still one index entry.
        expect(await indexIds(user)).toEqual([s.id]);
        // The old token can't rotate again.
        expect(
          await store.rotate({
            id: s.id,
            tokenHash: s.hash,
            newTokenHash: newToken(s.id).hash,
            patch: null,
            now: at + 2,
            policy: POLICY,
          }),
        ).toBe(null);
      });

      it('past a deadline returns null and leaves the ending (and its report) to validate', async () => {
        const s = await login(newUser());
        expect(
          await store.rotate({
            id: s.id,
            tokenHash: s.hash,
            newTokenHash: newToken(s.id).hash,
            patch: null,
            now: T0 + POLICY.idleMs,
            policy: POLICY,
          }),
        ).toBe(null);
        expect(
          await store.patch({
            id: s.id,
            tokenHash: s.hash,
            patch: { x: 1 },
            now: T0 + POLICY.idleMs,
            policy: POLICY,
          }),
        ).toBe(null);
        expect(
          await store.logout({ id: s.id, tokenHash: s.hash, now: T0 + POLICY.idleMs, policy: POLICY }),
        ).toBe(null);
        expect(
          await store.validate({ id: s.id, tokenHash: s.hash, now: T0 + POLICY.idleMs, policy: POLICY }),
        ).toMatchObject({
          ok: false,
          reason: 'idle_timeout',
          ended: true,
        });
      });

      it('parallel rotations of one token yield exactly one live successor', async () => {
        const s = await login(newUser());
        const successors = Array.from({ length: 25 }, () => newToken(s.id));
        const results = await Promise.all(
          successors.map((n) =>
            store.rotate({
              id: s.id,
              tokenHash: s.hash,
              newTokenHash: n.hash,
              patch: null,
              now: T0 + MIN,
              policy: POLICY,
            }),
          ),
        );
        const winners = successors.filter((_, n) => results[n] !== null);
        expect(winners).toHaveLength(1);
        for (const n of successors) {
          const v = await store.validate({ id: s.id, tokenHash: n.hash, now: T0 + 2 * MIN, policy: POLICY });
          expect(v.ok).toBe(n === winners[0]);
        }
      });
    });

    describe('patch', () => {
      it('shallow-merges without touching lastActivityAt, TTL or rotatePending', async () => {
        const user = newUser();
        const s = await login(user, T0, { role: 'member', prefs: { a: 1 } });
        await store.updateUser({ userId: user, patch: {}, rotate: true, now: T0 + 1, policy: POLICY });
        const pttl = await client.pttl(keys.session(s.id));
        const patched = await store.patch({
          id: s.id,
          tokenHash: s.hash,
          patch: { prefs: { b: 2 }, authAt: T0 + 2 },
          now: T0 + 2,
          policy: POLICY,
        });
        expect(patched).toMatchObject({
          data: { role: 'member', prefs: { b: 2 }, authAt: T0 + 2 },
          lastActivityAt: T0,
          rotatePending: true,
        });
        expect(await client.pttl(keys.session(s.id))).toBeLessThanOrEqual(pttl);
        expect(
          await store.patch({
            id: s.id,
            tokenHash: newToken(s.id).hash,
            patch: { x: 1 },
            now: T0 + 3,
            policy: POLICY,
          }),
        ).toBe(null);
      });
    });

    describe('end, revoke, revokeAll, list', () => {
      it('end needs the live token and removes the index entry', async () => {
        const user = newUser();
        const s = await login(user);
        expect(
          await store.logout({ id: s.id, tokenHash: newToken(s.id).hash, now: T0 + 1, policy: POLICY }),
        ).toBe(null);
        const ended = await store.logout({ id: s.id, tokenHash: s.hash, now: T0 + 1, policy: POLICY });
        expect(ended).toMatchObject({ id: s.id, userId: user, lastActivityAt: T0 });
        expect(await indexIds(user)).toEqual([]);
      });

      it('end with an old token compares the full previous hash, not a 48-bit hint of it', async () => {
        const user = newUser();
        const s = await login(user);
        const next = newToken(s.id);
        await store.rotate({
          id: s.id,
          tokenHash: s.hash,
          newTokenHash: next.hash,
          patch: null,
          now: T0 + 1,
          policy: POLICY,
        });
        const key = keys.session(s.id);
        // A record whose `p` is only the first 8 characters of a forged token's hash: what a chance
        // 48-bit match with the real previous hash looks like. Ending with that token must fail.
        const forged = newToken(s.id);
        await client.hset(key, 'p', hashText(forged.hash).slice(0, 8));
        expect(await store.logout({ id: s.id, tokenHash: forged.hash, now: T0 + 2, policy: POLICY })).toBe(
          null,
        );
        expect(
          await store.validate({ id: s.id, tokenHash: forged.hash, now: T0 + 2, policy: POLICY }),
        ).toEqual({
          ok: false,
          reason: 'unknown',
        });
        expect(
          (await store.validate({ id: s.id, tokenHash: next.hash, now: T0 + 3, policy: POLICY })).ok,
        ).toBe(true);
        // With `p` as rotate writes it (the full previous hash), the real previous token still ends it.
        await client.hset(key, 'p', hashText(s.hash));
        expect((await store.logout({ id: s.id, tokenHash: s.hash, now: T0 + 4, policy: POLICY }))?.id).toBe(
          s.id,
        );
        expect(await store.validate({ id: s.id, tokenHash: next.hash, now: T0 + 5, policy: POLICY })).toEqual(
          {
            ok: false,
            reason: 'logged_out',
          },
        );
        expect(await indexIds(user)).toEqual([]);
      });

      it('revoke ends only a session of that user (IDOR), by public id', async () => {
        const alice = newUser();
        const mallory = newUser();
        const s = await login(alice);
        await login(mallory);
        expect(
          await store.revoke({ userId: mallory, id: s.id, reason: 'revoked', now: T0 + 1, policy: POLICY }),
        ).toBe(null);
        expect((await store.validate({ id: s.id, tokenHash: s.hash, now: T0 + 2, policy: POLICY })).ok).toBe(
          true,
        );
        expect(
          await store.revoke({
            userId: alice,
            id: 'not-a-session-id',
            reason: 'revoked',
            now: T0 + 3,
            policy: POLICY,
          }),
        ).toBe(null);
        expect(
          (await store.revoke({ userId: alice, id: s.id, reason: 'revoked', now: T0 + 3, policy: POLICY }))
            ?.id,
        ).toBe(s.id);
        expect(await store.validate({ id: s.id, tokenHash: s.hash, now: T0 + 4, policy: POLICY })).toEqual({
          ok: false,
          reason: 'revoked',
        });
        expect(await indexIds(alice)).toEqual([]);
      });

      it('revoke of a session past its deadline returns null; validate still reports the expiry once', async () => {
        const user = newUser();
        const s = await login(user);
        expect(
          await store.revoke({
            userId: user,
            id: s.id,
            reason: 'revoked',
            now: T0 + POLICY.idleMs,
            policy: POLICY,
          }),
        ).toBe(null);
        expect(
          await store.validate({ id: s.id, tokenHash: s.hash, now: T0 + POLICY.idleMs, policy: POLICY }),
        ).toMatchObject({
          ok: false,
          reason: 'idle_timeout',
          ended: true,
        });
      });

      it('revokeAll ends every live session but the kept one', async () => {
        const user = newUser();
        const a = await login(user, T0);
        const b = await login(user, T0 + 1);
        const c = await login(user, T0 + 2);
        const ended = await store.revokeAll({
          userId: user,
          exceptId: b.id,
          reason: 'password_changed',
          now: T0 + 3,
          policy: POLICY,
        });
        expect(ended.map((s) => s.id).sort()).toEqual([a.id, c.id].sort());
        expect(await liveIds(user, T0 + 4)).toEqual([b.id]);
        expect(await indexIds(user)).toEqual([b.id]);
        expect(await store.validate({ id: a.id, tokenHash: a.hash, now: T0 + 4, policy: POLICY })).toEqual({
          ok: false,
          reason: 'password_changed',
        });
        expect(
          await store.revokeAll({
            userId: user,
            exceptId: null,
            reason: 'revoked',
            now: T0 + 5,
            policy: POLICY,
          }),
        ).toHaveLength(1);
        expect(await indexIds(user)).toEqual([]);
      });

      it('a revoke writes its reason verbatim into the tombstone (account_disabled too)', async () => {
        const user = newUser();
        const a = await login(user, T0);
        const b = await login(user, T0 + 1);
        const ended = await store.revokeAll({
          userId: user,
          exceptId: null,
          reason: 'account_disabled',
          now: T0 + 2,
          policy: POLICY,
        });
        expect(ended.map((s) => s.id).sort()).toEqual([a.id, b.id].sort());
        expect(await indexIds(user)).toEqual([]);
        for (const s of [a, b]) {
          const raw = await client.hgetall(keys.session(s.id));
          expect(raw).toEqual({ h: hashText(s.hash).slice(0, 8), e: 'account_disabled', t: String(T0 + 2) });
          expect(await store.validate({ id: s.id, tokenHash: s.hash, now: T0 + 3, policy: POLICY })).toEqual({
            ok: false,
            reason: 'account_disabled',
          });
        }
      });

      it('list returns live sessions oldest first and prunes the rest', async () => {
        const user = newUser();
        const b = await login(user, T0 + 2 * MIN);
        const a = await login(user, T0);
        const c = await login(user, T0 + 4 * MIN);
        await store.validate({ id: a.id, tokenHash: a.hash, now: T0 + 20 * MIN, policy: POLICY });
        const sessions = await store.list({ userId: user, now: T0 + 20 * MIN, policy: POLICY });
        expect(sessions.map((s) => s.id)).toEqual([a.id, b.id, c.id]);
        // At T0 + 2m + idle, b (last active at 2m) has lapsed; a (touched at 20m) and c (4m) have not.
        const later = await store.list({ userId: user, now: T0 + 2 * MIN + POLICY.idleMs, policy: POLICY });
        expect(later.map((s) => s.id)).toEqual([a.id, c.id]);
        expect(await indexIds(user)).toEqual([a.id, c.id].sort());
      });
    });

    describe('updateUser', () => {
      it('patches every live session in order, visible to the very next validate and list', async () => {
        const user = newUser();
        const a = await login(user, T0, { role: 'member', keep: 1 });
        const b = await login(user, T0 + 1, { role: 'member' });
        const dead = await login(user, T0 + 2);
        await store.logout({ id: dead.id, tokenHash: dead.hash, now: T0 + 3, policy: POLICY });
        expect(
          await store.updateUser({
            userId: user,
            patch: { role: 'admin', v: 1 },
            rotate: false,
            now: T0 + 4,
            policy: POLICY,
          }),
        ).toBe(2);
        expect(
          await store.updateUser({
            userId: user,
            patch: { v: 2 },
            rotate: false,
            now: T0 + 5,
            policy: POLICY,
          }),
        ).toBe(2);
        const listed = await store.list({ userId: user, now: T0 + 6, policy: POLICY });
        expect(listed.map((s) => s.data)).toEqual([
          { role: 'admin', keep: 1, v: 2 },
          { role: 'admin', v: 2 },
        ]);
        expect(listed.every((s) => !s.rotatePending)).toBe(true);
        const v = await store.validate({ id: a.id, tokenHash: a.hash, now: T0 + 7, policy: POLICY });
        expect(v.ok && v.session.data).toEqual({ role: 'admin', keep: 1, v: 2 });
        // validate folded the queue into d.
        expect(await client.hexists(keys.session(a.id), 'q')).toBe(0);
        expect(await rawField(keys.session(b.id), 'q')).toBe('{"role":"admin","v":1},{"v":2}');
      });

      it('with rotate marks every live session; rotate clears the mark and folds the queue', async () => {
        const user = newUser();
        const a = await login(user);
        expect(
          await store.updateUser({
            userId: user,
            patch: { role: 'admin' },
            rotate: true,
            now: T0 + 1,
            policy: POLICY,
          }),
        ).toBe(1);
        const v = await store.validate({ id: a.id, tokenHash: a.hash, now: T0 + 2, policy: POLICY });
        expect(v.ok && v.session.rotatePending).toBe(true);
        const next = newToken(a.id);
        const rotated = await store.rotate({
          id: a.id,
          tokenHash: a.hash,
          newTokenHash: next.hash,
          patch: null,
          now: T0 + 3,
          policy: POLICY,
        });
        expect(rotated).toMatchObject({ rotatePending: false, data: { role: 'admin' } });
        const raw = await client.hgetall(keys.session(a.id));
        expect(raw.r).toBeUndefined();
        expect(raw.q).toBeUndefined();
        expect(raw.d).toBe('{"role":"admin"}');
      });

      it('the Lua text merge equals the JS spread merge for arbitrary JSON', async () => {
        const json = fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 3 }), {
          maxKeys: 6,
        });
        const normal = (v: unknown) => JSON.parse(JSON.stringify(v)) as SessionData;
        await fc.assert(
          fc.asyncProperty(json, json, json, json, async (d, q1, q2, p) => {
            const user = newUser();
            const s = await login(user, T0, normal(d));
            await store.updateUser({
              userId: user,
              patch: normal(q1),
              rotate: false,
              now: T0 + 1,
              policy: POLICY,
            });
            await store.updateUser({
              userId: user,
              patch: normal(q2),
              rotate: false,
              now: T0 + 1,
              policy: POLICY,
            });
            const expected = normal({ ...normal(d), ...normal(q1), ...normal(q2) });
            // JS merge of d + q (list), then the Lua merge (patch folds q and p into d).
            const [listed] = await store.list({ userId: user, now: T0 + 2, policy: POLICY });
            expect(listed?.data).toEqual(expected);
            const patched = await store.patch({
              id: s.id,
              tokenHash: s.hash,
              patch: normal(p),
              now: T0 + 3,
              policy: POLICY,
            });
            expect(patched?.data).toEqual(normal({ ...expected, ...normal(p) }));
            const stored = await rawField(keys.session(s.id), 'd');
            expect(JSON.parse(stored ?? 'null')).toEqual(normal({ ...expected, ...normal(p) }));
          }),
          { numRuns: 60 },
        );
      });
    });

    describe('per-user limit and index hygiene', () => {
      it('evict-oldest ends the least recently active session and reports it', async () => {
        const user = newUser();
        const a = await login(user, T0);
        const b = await login(user, T0 + 1);
        const c = await login(user, T0 + 2);
        await store.validate({ id: a.id, tokenHash: a.hash, now: T0 + 10, policy: POLICY }); // b is now the least recently active
        const d = newSession(user, T0 + 20);
        const outcome = await store.create({
          session: d.session,
          limit: evict,
          now: T0 + 20,
          policy: POLICY,
        });
        expect(outcome.ok && outcome.evicted.map((s) => s.id)).toEqual([b.id]);
        expect(await liveIds(user, T0 + 21)).toEqual([a.id, c.id, d.id].sort());
        expect(await store.validate({ id: b.id, tokenHash: b.hash, now: T0 + 21, policy: POLICY })).toEqual({
          ok: false,
          reason: 'evicted',
        });
      });

      it('reject refuses and lists the live sessions, inserting nothing', async () => {
        const user = newUser();
        for (let n = 0; n < 3; n++) await login(user, T0 + n);
        const d = newSession(user, T0 + 10);
        const outcome = await store.create({
          session: d.session,
          limit: { max: 3, onLimit: 'reject' },
          now: T0 + 10,
          policy: POLICY,
        });
        expect(outcome.ok).toBe(false);
        expect(!outcome.ok && outcome.active).toHaveLength(3);
        expect(await client.exists(keys.session(d.id))).toBe(0);
        expect(await indexIds(user)).toHaveLength(3);
      });

      it('keeps no ghosts: sessions past idle are pruned on the next create', async () => {
        const user = newUser();
        for (let n = 0; n < 3; n++) await login(user, T0 + n);
        const later = T0 + POLICY.idleMs + 10;
        const next = newSession(user, later);
        const outcome = await store.create({
          session: next.session,
          limit: { max: 3, onLimit: 'reject' },
          now: later,
          policy: POLICY,
        });
        expect(outcome).toEqual({ ok: true, evicted: [] });
        expect(await client.zcard(keys.userIndex(user))).toBe(1);
        expect(await liveIds(user, later)).toEqual([next.id]);
      });

      it('keeps no ghosts: absolute-expired members are dropped by score', async () => {
        const user = newUser();
        await login(user, T0);
        const later = T0 + POLICY.absoluteMs;
        const next = newSession(user, later);
        await store.create({ session: next.session, limit: evict, now: later, policy: POLICY });
        expect(await indexIds(user)).toEqual([next.id]);
      });

      for (const onLimit of ['evict-oldest', 'reject'] as const) {
        it(`200 parallel creates of one user (max 3, ${onLimit}) leave exactly 3 live, index == live set`, async () => {
          const user = newUser();
          const attempts = Array.from({ length: 200 }, (_, n) => newSession(user, T0 + n));
          const outcomes = await Promise.all(
            attempts.map((a, n) =>
              store.create({ session: a.session, limit: { max: 3, onLimit }, now: T0 + n, policy: POLICY }),
            ),
          );
          const live = await liveIds(user, T0 + 1000);
          expect(live).toHaveLength(3);
          expect(await indexIds(user)).toEqual(live);
          if (onLimit === 'reject') {
            expect(outcomes.filter((o) => o.ok)).toHaveLength(3);
          } else {
            const evicted = outcomes.flatMap((o) => (o.ok ? o.evicted : []));
            expect(evicted).toHaveLength(197);
            expect(new Set([...evicted.map((s) => s.id), ...live]).size).toBe(200);
          }
          // Every attempt that is not live reads as ended or never existed.
          for (const a of attempts) {
            const v = await store.validate({ id: a.id, tokenHash: a.hash, now: T0 + 1000, policy: POLICY });
            if (!live.includes(a.id)) expect(v.ok).toBe(false);
          }
        });
      }
    });

    describe('races', () => {
      it('validate racing revoke or end never resurrects the session', async () => {
        const user = newUser();
        const big = { ...POLICY };
        for (let round = 0; round < 30; round++) {
          const s = newSession(user, T0 + round);
          await store.create({
            session: s.session,
            limit: { max: 1000, onLimit: 'evict-oldest' },
            now: T0 + round,
            policy: big,
          });
          const killer =
            round % 2 === 0
              ? store.revoke({ userId: user, id: s.id, reason: 'revoked', now: T0 + round + 1, policy: big })
              : store.logout({ id: s.id, tokenHash: s.hash, now: T0 + round + 1, policy: big });
          await Promise.all([
            ...Array.from({ length: 5 }, () =>
              store.validate({ id: s.id, tokenHash: s.hash, now: T0 + round + 2, policy: big }),
            ),
            killer,
            ...Array.from({ length: 5 }, () =>
              store.validate({ id: s.id, tokenHash: s.hash, now: T0 + round + 2, policy: big }),
            ),
          ]);
          const after = await store.validate({
            id: s.id,
            tokenHash: s.hash,
            now: T0 + round + 3,
            policy: big,
          });
          expect(after).toEqual({ ok: false, reason: round % 2 === 0 ? 'revoked' : 'logged_out' });
          expect(await client.hexists(keys.session(s.id), 'c')).toBe(0);
        }
        expect(await indexIds(user)).toEqual([]);
      });
    });

    describe('scripts', () => {
      it('falls back to EVAL when the server lost its script cache (SCRIPT FLUSH)', async () => {
        const s = await login(newUser());
        await env.flushScripts();
        expect((await store.validate({ id: s.id, tokenHash: s.hash, now: T0 + 1, policy: POLICY })).ok).toBe(
          true,
        );
        expect((await store.validate({ id: s.id, tokenHash: s.hash, now: T0 + 2, policy: POLICY })).ok).toBe(
          true,
        );
      });

      it('a wrong-typed key surfaces as SessionStoreError through the manager, never as "no session"', async () => {
        const user = newUser();
        const s = newSession(user);
        await client.set(keys.session(s.id), 'not a hash');
        await client.set(keys.userIndex(user), 'not a sorted set');
        const sessions = createSessionManager({ store });
        for (const [operation, call] of [
          ['validate', () => sessions.validate(s.token)],
          ['list', () => sessions.list(user)],
        ] as const) {
          const error = await call().then(
            () => null,
            (e: unknown) => e,
          );
          expect(error, operation).toBeInstanceOf(SessionStoreError);
          expect(error, operation).toMatchObject({ code: 'STORE_UNAVAILABLE' });
          expect((error as Error).message, operation).toMatch(
            new RegExp(`^redis store: ${operation} failed: .*WRONGTYPE`),
          );
        }
        // The store itself lets the Redis error through: the manager is the one place that wraps it.
        const direct = await store.validate({ id: s.id, tokenHash: s.hash, now: T0, policy: POLICY }).then(
          () => null,
          (e: unknown) => e,
        );
        expect(direct).toBeInstanceOf(Error);
        expect(direct).not.toBeInstanceOf(SessionError);
        expect((direct as Error).message).toMatch(/WRONGTYPE/);
      });
    });

    afterAll(async () => {
      // Keys expire on their own (TTL <= ~a day); on a shared server remove them now.
      await env?.cleanup?.(prefix);
    });
  });
}
