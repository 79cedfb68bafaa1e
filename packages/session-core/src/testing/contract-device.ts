import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type {
  DeviceKey,
  DeviceOutcome,
  EndReason,
  NewSession,
  SessionData,
  SessionLimit,
  SessionStore,
  StoredSecret,
  StorePolicy,
} from '../store.js';
import { newToken } from '../tokens.js';
import type { TestApi } from './test-api.js';

/** A session as the contract makes it: the store's input, the token and SHA-256 of it. */
export interface DeviceContractMade {
  input: NewSession;
  token: string;
  hash: Uint8Array;
}

/** What the device section borrows from the main suite (its store, clock origin, policy, helpers). */
export interface DeviceContractContext {
  describe: TestApi['describe'];
  it: TestApi['it'];
  /** The store under test (set by the suite's beforeAll, so only read inside a test). */
  store: () => SessionStore;
  /** The suite's clock origin: every `now` is chosen around it. */
  T0: number;
  /** Needs a `bindingGraceMs` well below `idleMs`. */
  policy: StorePolicy;
  user: () => string;
  make: (userId: string, at?: number, data?: SessionData) => DeviceContractMade;
  /** Creates a session without a device challenge, asserting it was accepted. */
  create: (
    userId: string,
    at?: number,
    data?: SessionData,
    limit?: SessionLimit,
  ) => Promise<DeviceContractMade>;
  /** `hash` with only its last byte changed. */
  nearMiss: (hash: Uint8Array) => Uint8Array;
}

const DEVICE_METHODS = ['bindDevice', 'deviceChallenge', 'deviceKey', 'refreshDevice'] as const;
type DeviceMethod = (typeof DEVICE_METHODS)[number];
type DeviceStore = SessionStore & Required<Pick<SessionStore, DeviceMethod>>;
type KeyOutcome = Awaited<ReturnType<DeviceStore['deviceKey']>>;

const SECOND = 1000;
const MINUTE = 60 * SECOND;
/** The manager's defaults (docs/DBSC.md §4.2): the bound cookie counts 30 s past its Max-Age. */
const CHALLENGE_TTL = 15 * MINUTE;
const BOUND_TTL = 10 * MINUTE + 30 * SECOND;
const limit: SessionLimit = { max: 3, onLimit: 'evict-oldest' };

/** A one-time secret as the manager stores it: SHA-256 of 32 random bytes, and its expiry. */
const secret = (expiresAt: number): StoredSecret => ({
  hash: createHash('sha256').update(randomBytes(32)).digest(),
  expiresAt,
});

/** A device key as the manager passes it: canonical JWK of the required members, RFC 7638 thumbprint. */
const deviceKey = (alg: DeviceKey['alg'] = 'ES256'): DeviceKey => {
  const b64 = (n: number) => randomBytes(n).toString('base64url');
  const jwk =
    alg === 'ES256'
      ? JSON.stringify({ crv: 'P-256', kty: 'EC', x: b64(32), y: b64(32) })
      : JSON.stringify({ e: 'AQAB', kty: 'RSA', n: b64(256) });
  return { jkt: createHash('sha256').update(jwk).digest('base64url'), jwk, alg };
};

const reasonOf = (o: DeviceOutcome | KeyOutcome) => (o.ok ? 'ok' : o.reason);

/**
 * The device-binding (DBSC) part of the store contract: bindDevice, deviceChallenge, deviceKey,
 * refreshDevice, and validate's bound rule (docs/DBSC.md §4.3-4.4). The four methods are optional as a
 * group: a store with none of them passes this section by the first test alone; a store with some of
 * them fails it.
 */
export function runDeviceBindingContract(ctx: DeviceContractContext): void {
  const { describe, it, T0, policy, user, make, create, nearMiss } = ctx;
  const store = () => ctx.store();

  /** The store with its device methods, or null for a store without device binding. */
  const deviceStore = (): DeviceStore | null => {
    const s = store();
    return DEVICE_METHODS.every((m) => typeof s[m] === 'function') ? (s as DeviceStore) : null;
  };
  /** A test that runs against a store with device binding and passes trivially without it. */
  const test = (name: string, fn: (s: DeviceStore) => Promise<void>, timeout?: number) =>
    it(
      name,
      async () => {
        const s = deviceStore();
        if (s) await fn(s);
      },
      timeout,
    );

  const call = (m: DeviceContractMade, now: number) => ({ id: m.input.id, tokenHash: m.hash, now, policy });
  /** validate with this bound cookie hash (or none): 'live' or the miss. */
  const check = async (m: DeviceContractMade, boundHash: Uint8Array | null, now: number) => {
    const v = await store().validate({ ...call(m, now), boundHash });
    return v.ok ? 'live' : v.reason;
  };
  const listed = async (m: DeviceContractMade, now: number) =>
    (await store().list({ userId: m.input.userId, now, policy })).find((s) => s.id === m.input.id);

  interface Enrolled extends DeviceContractMade {
    challenge: StoredSecret;
  }
  /** A session created with a registration challenge, as a sign-in with device binding makes it. */
  const enrol = async (userId = user(), at = T0, challengeTtl = CHALLENGE_TTL): Promise<Enrolled> => {
    const m = make(userId, at);
    const challenge = secret(at + challengeTtl);
    m.input.deviceChallenge = challenge;
    assert.ok((await store().create({ session: m.input, limit, now: at, policy })).ok, 'create succeeds');
    return { ...m, challenge };
  };

  const bindArgs = (at: number, boundTtl = BOUND_TTL, alg: DeviceKey['alg'] = 'ES256') => ({
    key: deviceKey(alg),
    bound: secret(at + boundTtl),
    next: secret(at + CHALLENGE_TTL),
  });
  interface Bound extends Enrolled {
    key: DeviceKey;
    bound: StoredSecret;
    next: StoredSecret;
    boundAt: number;
  }
  /** A session created at T0 with a challenge and bound at `at` (lastActivityAt stays T0). */
  const bound = async (
    s: DeviceStore,
    at = T0 + SECOND,
    options: { boundTtl?: number; alg?: DeviceKey['alg']; userId?: string } = {},
  ): Promise<Bound> => {
    const m = await enrol(options.userId);
    const args = bindArgs(at, options.boundTtl, options.alg);
    const outcome = await s.bindDevice({ ...call(m, at), challengeHash: m.challenge.hash, ...args });
    assert.equal(reasonOf(outcome), 'ok', 'bindDevice with the registration challenge');
    return { ...m, ...args, boundAt: at };
  };
  /** A refresh of session `b` with `challenge` (by b's key unless `jkt`), fresh bound cookie and next. */
  const refresh = async (s: DeviceStore, b: Bound, challenge: Uint8Array, at: number, jkt = b.key.jkt) => {
    const args = { bound: secret(at + BOUND_TTL), next: secret(at + CHALLENGE_TTL) };
    const outcome = await s.refreshDevice({ ...call(b, at), jkt, challengeHash: challenge, ...args });
    return { outcome, ...args };
  };

  /** Each device method called on bound session `b`, as the manager would call it. */
  const deviceCalls: Record<
    DeviceMethod,
    (s: DeviceStore, b: Bound, at: number) => Promise<DeviceOutcome | KeyOutcome>
  > = {
    bindDevice: (s, b, at) => s.bindDevice({ ...call(b, at), challengeHash: b.next.hash, ...bindArgs(at) }),
    deviceChallenge: (s, b, at) =>
      s.deviceChallenge({ ...call(b, at), challenge: secret(at + CHALLENGE_TTL) }),
    deviceKey: (s, b, at) => s.deviceKey(call(b, at)),
    refreshDevice: (s, b, at) =>
      s.refreshDevice({
        ...call(b, at),
        jkt: b.key.jkt,
        challengeHash: b.next.hash,
        bound: secret(at + BOUND_TTL),
        next: secret(at + CHALLENGE_TTL),
      }),
  };

  describe('device binding (DBSC)', () => {
    it('a store has all four device methods or none of them', () => {
      const s = store();
      const present = DEVICE_METHODS.filter((m) => typeof s[m] === 'function');
      assert.ok(
        present.length === 0 || present.length === DEVICE_METHODS.length,
        `device methods come as a group, found only: ${present.join(', ')}`,
      );
    });

    describe('bindDevice', () => {
      test('binds with the stored challenge: boundAt = now, carried by validate and list; unbound sessions read null', async (s) => {
        const u = user();
        const plain = await create(u, T0);
        const m = await enrol(u, T0 + 1);
        const at = T0 + 5 * SECOND;
        const args = bindArgs(at);
        const outcome = await s.bindDevice({ ...call(m, at), challengeHash: m.challenge.hash, ...args });
        assert.ok(outcome.ok, `bindDevice: ${reasonOf(outcome)}`);
        assert.equal(outcome.session.id, m.input.id);
        assert.equal(outcome.session.boundAt, at);
        assert.equal(outcome.session.lastActivityAt, T0 + 1, 'binding does not touch');
        const v = await store().validate({ ...call(m, at + 1), boundHash: args.bound.hash });
        assert.ok(v.ok);
        // The whole record: boundAt, and no device secret (challenge, key, cookie) in a StoredSession.
        assert.deepEqual(v.session, {
          id: m.input.id,
          userId: u,
          data: m.input.data,
          createdAt: T0 + 1,
          lastActivityAt: at + 1,
          userAgent: m.input.userAgent,
          ip: m.input.ip,
          rotatePending: false,
          boundAt: at,
        });
        const list = await store().list({ userId: u, now: at + 2, policy });
        assert.deepEqual(
          list.map((x) => [x.id, x.boundAt]),
          [
            [plain.input.id, null],
            [m.input.id, at],
          ],
        );
        const p = await store().validate(call(plain, at + 3));
        assert.ok(p.ok);
        assert.equal(p.session.boundAt, null);
      });

      test('refuses a challenge that is not the stored one (full hash compared), and the refusal uses nothing up', async (s) => {
        const m = await enrol();
        const wrong = await s.bindDevice({
          ...call(m, T0 + 1),
          challengeHash: nearMiss(m.challenge.hash),
          ...bindArgs(T0 + 1),
        });
        assert.deepEqual(wrong, { ok: false, reason: 'bad_challenge' });
        const other = await s.bindDevice({
          ...call(m, T0 + 2),
          challengeHash: secret(0).hash,
          ...bindArgs(T0 + 2),
        });
        assert.equal(reasonOf(other), 'bad_challenge');
        assert.equal(await check(m, null, T0 + 3 + policy.bindingGraceMs), 'live', 'still unbound');
        const right = await s.bindDevice({
          ...call(m, T0 + 4),
          challengeHash: m.challenge.hash,
          ...bindArgs(T0 + 4),
        });
        assert.equal(reasonOf(right), 'ok');
      });

      test('refuses an expired challenge: bad_challenge at its exact expiry, ok 1 ms before', async (s) => {
        const late = await enrol();
        const atExpiry = late.challenge.expiresAt;
        const refused = await s.bindDevice({
          ...call(late, atExpiry),
          challengeHash: late.challenge.hash,
          ...bindArgs(atExpiry),
        });
        assert.equal(reasonOf(refused), 'bad_challenge');
        assert.equal(await check(late, null, atExpiry + 1), 'live', 'a late registration leaves it unbound');
        const inTime = await enrol();
        const ok = await s.bindDevice({
          ...call(inTime, atExpiry - 1),
          challengeHash: inTime.challenge.hash,
          ...bindArgs(atExpiry - 1),
        });
        assert.equal(reasonOf(ok), 'ok');
      });

      test('refuses a session created without a challenge (absent or null): bad_challenge', async (s) => {
        const absent = await create(user());
        const nulled = make(user());
        nulled.input.deviceChallenge = null;
        assert.ok((await store().create({ session: nulled.input, limit, now: T0, policy })).ok);
        for (const m of [absent, nulled]) {
          for (const challengeHash of [secret(0).hash, new Uint8Array(32)]) {
            const o = await s.bindDevice({ ...call(m, T0 + 1), challengeHash, ...bindArgs(T0 + 1) });
            assert.equal(reasonOf(o), 'bad_challenge');
          }
          const v = await store().validate(call(m, T0 + 2 + policy.bindingGraceMs));
          assert.ok(v.ok);
          assert.equal(v.session.boundAt, null);
        }
      });

      test('binds once: a second bind answers already_bound (before any challenge check) and keeps the first key', async (s) => {
        const b = await bound(s);
        const at = b.boundAt + SECOND;
        for (const challengeHash of [b.next.hash, b.challenge.hash, nearMiss(b.next.hash)]) {
          const again = await s.bindDevice({ ...call(b, at), challengeHash, ...bindArgs(at) });
          assert.equal(reasonOf(again), 'already_bound');
        }
        const k = await s.deviceKey(call(b, at));
        assert.ok(k.ok);
        assert.deepEqual(k.key, b.key);
        assert.equal(k.session.boundAt, b.boundAt, 'boundAt is set once');
        assert.equal(await check(b, b.bound.hash, at), 'live', "the first bind's cookie still counts");
      });

      test('concurrent binds with one challenge: exactly one wins, and its key and cookie are the stored ones', async (s) => {
        const m = await enrol();
        const at = T0 + SECOND;
        const attempts = Array.from({ length: 20 }, () => bindArgs(at));
        const outcomes = await Promise.all(
          attempts.map((a) => s.bindDevice({ ...call(m, at), challengeHash: m.challenge.hash, ...a })),
        );
        const winners = attempts.filter((_, i) => outcomes[i]?.ok);
        assert.equal(winners.length, 1, 'exactly one bind wins');
        for (const o of outcomes) {
          if (!o.ok) assert.ok(['already_bound', 'bad_challenge'].includes(o.reason), o.reason);
        }
        const winner = winners[0]!;
        const k = await s.deviceKey(call(m, at + 1));
        assert.ok(k.ok);
        assert.deepEqual(k.key, winner.key);
        const afterGrace = at + policy.bindingGraceMs;
        assert.equal(await check(m, winner.bound.hash, afterGrace), 'live');
        const loser = attempts.find((a) => a !== winner)!;
        assert.equal(await check(m, loser.bound.hash, afterGrace + 1), 'device_unbound');
      });

      test('an unknown id or a wrong token binds nothing: unknown', async (s) => {
        const m = await enrol();
        const stranger = make(m.input.userId);
        const unknownId = await s.bindDevice({
          ...call({ ...stranger, hash: m.hash }, T0 + 1),
          challengeHash: m.challenge.hash,
          ...bindArgs(T0 + 1),
        });
        assert.deepEqual(unknownId, { ok: false, reason: 'unknown' });
        for (const tokenHash of [nearMiss(m.hash), newToken(m.input.id).hash]) {
          const o = await s.bindDevice({
            ...call({ ...m, hash: tokenHash }, T0 + 1),
            challengeHash: m.challenge.hash,
            ...bindArgs(T0 + 1),
          });
          assert.deepEqual(o, { ok: false, reason: 'unknown' });
        }
        const ok = await s.bindDevice({
          ...call(m, T0 + 2),
          challengeHash: m.challenge.hash,
          ...bindArgs(T0 + 2),
        });
        assert.equal(reasonOf(ok), 'ok', 'the real token still binds');
      });

      test('a tombstone never binds: logged out or revoked, it answers its end reason', async (s) => {
        const out = await enrol();
        assert.ok(await store().logout(call(out, T0 + 1)));
        const o1 = await s.bindDevice({
          ...call(out, T0 + 2),
          challengeHash: out.challenge.hash,
          ...bindArgs(T0 + 2),
        });
        assert.equal(reasonOf(o1), 'logged_out');
        assert.ok(!o1.ok && !o1.ended);
        assert.equal(await check(out, null, T0 + 3), 'logged_out');
        assert.equal(reasonOf(await s.deviceKey(call(out, T0 + 3))), 'logged_out');
        const gone = await enrol();
        await store().revoke({
          userId: gone.input.userId,
          id: gone.input.id,
          reason: 'revoked',
          now: T0 + 1,
          policy,
        });
        const o2 = await s.bindDevice({
          ...call(gone, T0 + 2),
          challengeHash: gone.challenge.hash,
          ...bindArgs(T0 + 2),
        });
        assert.equal(reasonOf(o2), 'revoked');
        assert.equal(await listed(gone, T0 + 3), undefined);
      });

      test('past the idle deadline: ends the unbound session with idle_timeout (ended: true) once, and never binds it', async (s) => {
        // A challenge that outlives the idle deadline: the deadline alone must refuse the bind.
        const m = await enrol(user(), T0, 2 * policy.idleMs);
        const at = T0 + policy.idleMs;
        const first = await s.bindDevice({
          ...call(m, at),
          challengeHash: m.challenge.hash,
          ...bindArgs(at),
        });
        assert.ok(!first.ok);
        assert.equal(first.reason, 'idle_timeout');
        assert.equal(first.ended, true);
        assert.equal(first.session?.id, m.input.id);
        assert.equal(first.session?.boundAt, null);
        const again = await s.bindDevice({
          ...call(m, at + 1),
          challengeHash: m.challenge.hash,
          ...bindArgs(at + 1),
        });
        assert.ok(!again.ok);
        assert.equal(again.reason, 'idle_timeout');
        assert.ok(!again.ended, 'only the first miss ends it');
        assert.equal(await check(m, null, at + 2), 'idle_timeout');
      });
    });

    describe('validate of a bound session', () => {
      test('without a bound cookie: accepted within the grace (now < boundAt + grace), device_unbound from boundAt + grace on', async (s) => {
        const b = await bound(s);
        assert.equal(await check(b, null, b.boundAt), 'live');
        assert.equal(await check(b, null, b.boundAt + policy.bindingGraceMs - 1), 'live');
        const v = await store().validate({ ...call(b, b.boundAt + policy.bindingGraceMs), boundHash: null });
        assert.ok(!v.ok);
        assert.equal(v.reason, 'device_unbound');
        assert.ok(!v.ended, 'a refused request ends nothing');
        const absent = await store().validate(call(b, b.boundAt + policy.bindingGraceMs + 1));
        assert.ok(!absent.ok && absent.reason === 'device_unbound', 'boundHash left out counts as none');
      });

      test('the bound cookie passes until its expiry and is refused at it', async (s) => {
        const b = await bound(s);
        assert.equal(await check(b, b.bound.hash, b.boundAt + policy.bindingGraceMs), 'live');
        assert.equal(await check(b, b.bound.hash, b.bound.expiresAt - 1), 'live');
        assert.equal(await check(b, b.bound.hash, b.bound.expiresAt), 'device_unbound');
      });

      test('a wrong bound cookie is refused (full hash compared): device_unbound', async (s) => {
        const b = await bound(s);
        const at = b.boundAt + policy.bindingGraceMs;
        for (const wrong of [nearMiss(b.bound.hash), secret(0).hash, b.hash, b.next.hash, b.challenge.hash]) {
          assert.equal(await check(b, wrong, at), 'device_unbound');
        }
        assert.equal(await check(b, b.bound.hash, at), 'live');
      });

      test('a refused validate writes nothing: lastActivityAt and the idle deadline stay where the last accepted request put them', async (s) => {
        // A bound cookie that outlives the idle deadline, so that only the idle clock decides below.
        const b = await bound(s, T0 + SECOND, { boundTtl: 2 * policy.idleMs });
        const accepted = T0 + 5 * MINUTE;
        assert.equal(await check(b, b.bound.hash, accepted), 'live');
        assert.equal(await check(b, null, T0 + 8 * MINUTE), 'device_unbound');
        assert.equal(await check(b, nearMiss(b.bound.hash), T0 + 8 * MINUTE + 1), 'device_unbound');
        const seen = await listed(b, T0 + 9 * MINUTE);
        assert.ok(seen, 'a refused validate leaves the session live (no tombstone)');
        assert.equal(seen.lastActivityAt, accepted);
        // Had a refusal touched, the session would be live here.
        const v = await store().validate({ ...call(b, accepted + policy.idleMs), boundHash: b.bound.hash });
        assert.ok(!v.ok);
        assert.equal(v.reason, 'idle_timeout');
        assert.equal(v.ended, true);
      });

      test('deadlines come first: past the idle or absolute deadline a bound session ends with that reason, cookie or not', async (s) => {
        const idle = await bound(s);
        const v = await store().validate({ ...call(idle, T0 + policy.idleMs), boundHash: null });
        assert.ok(!v.ok);
        assert.equal(v.reason, 'idle_timeout');
        assert.equal(v.ended, true);
        assert.equal(v.session?.boundAt, idle.boundAt);
        const absolute = await bound(s);
        assert.equal(await check(absolute, absolute.bound.hash, T0 + policy.absoluteMs), 'absolute_timeout');
        assert.equal(await check(absolute, null, T0 + policy.absoluteMs + 1), 'absolute_timeout');
      });

      test('an unbound session ignores boundHash', async (s) => {
        const m = await enrol();
        const plain = await create(user());
        for (const x of [m, plain]) {
          assert.equal(await check(x, secret(0).hash, T0 + policy.bindingGraceMs + 1), 'live');
          assert.equal(await check(x, null, T0 + policy.bindingGraceMs + 2), 'live');
        }
        // An unbound session with a challenge but no key: the challenge is no bound cookie.
        assert.equal(await check(m, m.challenge.hash, T0 + policy.bindingGraceMs + 3), 'live');
        assert.equal(await s.deviceKey(call(m, T0 + 4)).then(reasonOf), 'not_bound');
      });
    });

    describe('deviceChallenge', () => {
      test('refuses an unbound session: not_bound', async (s) => {
        for (const m of [await enrol(), await create(user())]) {
          const o = await s.deviceChallenge({ ...call(m, T0 + 1), challenge: secret(T0 + CHALLENGE_TTL) });
          assert.deepEqual(o, { ok: false, reason: 'not_bound' });
        }
      });

      test('replaces the one challenge: the one it replaced then gets bad_challenge from refreshDevice', async (s) => {
        const b = await bound(s);
        const replacement = secret(T0 + MINUTE + CHALLENGE_TTL);
        const o = await s.deviceChallenge({ ...call(b, T0 + MINUTE), challenge: replacement });
        assert.ok(o.ok, reasonOf(o));
        assert.equal(o.session.id, b.input.id);
        assert.equal(o.session.boundAt, b.boundAt);
        assert.equal(reasonOf((await refresh(s, b, b.next.hash, T0 + 2 * MINUTE)).outcome), 'bad_challenge');
        assert.equal(reasonOf((await refresh(s, b, replacement.hash, T0 + 2 * MINUTE)).outcome), 'ok');
      });
    });

    describe('deviceKey', () => {
      for (const alg of ['ES256', 'RS256'] as const) {
        test(`returns the key the session bound (${alg}): jkt, jwk and alg as given`, async (s) => {
          const b = await bound(s, T0 + SECOND, { alg });
          const k = await s.deviceKey(call(b, T0 + MINUTE));
          assert.ok(k.ok, reasonOf(k));
          assert.deepEqual(k.key, b.key);
          assert.equal(k.session.id, b.input.id);
          assert.equal(k.session.boundAt, b.boundAt);
        });
      }

      test('refuses an unbound session: not_bound', async (s) => {
        for (const m of [await enrol(), await create(user())]) {
          assert.deepEqual(await s.deviceKey(call(m, T0 + 1)), { ok: false, reason: 'not_bound' });
        }
      });
    });

    describe('refreshDevice', () => {
      test('moves the bound cookie: the new one passes, the one it replaced passes until its own expiry', async (s) => {
        const b = await bound(s);
        const at = T0 + 2 * MINUTE;
        const r = await refresh(s, b, b.next.hash, at);
        assert.ok(r.outcome.ok, reasonOf(r.outcome));
        assert.equal(r.outcome.session.boundAt, b.boundAt);
        assert.equal(await check(b, r.bound.hash, at + 1), 'live');
        assert.equal(await check(b, b.bound.hash, b.bound.expiresAt - 1), 'live');
        assert.equal(await check(b, b.bound.hash, b.bound.expiresAt), 'device_unbound');
        assert.equal(await check(b, r.bound.hash, b.bound.expiresAt + 1), 'live');
      });

      test('keeps only one previous bound cookie: two refreshes back is refused before its expiry', async (s) => {
        const b = await bound(s);
        const r1 = await refresh(s, b, b.next.hash, T0 + 2 * MINUTE);
        assert.ok(r1.outcome.ok);
        const r2 = await refresh(s, b, r1.next.hash, T0 + 3 * MINUTE);
        assert.ok(r2.outcome.ok, reasonOf(r2.outcome));
        const at = T0 + 4 * MINUTE;
        assert.ok(at < b.bound.expiresAt);
        assert.equal(await check(b, b.bound.hash, at), 'device_unbound');
        assert.equal(await check(b, r1.bound.hash, at + 1), 'live');
        assert.equal(await check(b, r2.bound.hash, at + 2), 'live');
      });

      test('a challenge is used once: the same proof again answers bad_challenge', async (s) => {
        const b = await bound(s);
        const first = await refresh(s, b, b.next.hash, T0 + MINUTE);
        assert.ok(first.outcome.ok);
        const replay = await refresh(s, b, b.next.hash, T0 + MINUTE + 1);
        assert.deepEqual(replay.outcome, { ok: false, reason: 'bad_challenge' });
        assert.equal(
          await check(b, replay.bound.hash, T0 + MINUTE + 2),
          'device_unbound',
          'a replay stores no cookie',
        );
        assert.equal(reasonOf((await refresh(s, b, first.next.hash, T0 + MINUTE + 3)).outcome), 'ok');
      });

      test('20 concurrent refreshes with one challenge: exactly one wins, and only its cookie and next challenge count', async (s) => {
        const b = await bound(s);
        const at = T0 + MINUTE;
        const attempts = Array.from({ length: 20 }, () => ({
          bound: secret(at + BOUND_TTL),
          next: secret(at + CHALLENGE_TTL),
        }));
        const outcomes = await Promise.all(
          attempts.map((a) =>
            s.refreshDevice({ ...call(b, at), jkt: b.key.jkt, challengeHash: b.next.hash, ...a }),
          ),
        );
        const winners = attempts.filter((_, i) => outcomes[i]?.ok);
        assert.equal(winners.length, 1, 'exactly one refresh wins');
        for (const o of outcomes) if (!o.ok) assert.equal(o.reason, 'bad_challenge');
        const winner = winners[0]!;
        assert.equal(await check(b, winner.bound.hash, at + 1), 'live');
        for (const a of attempts) {
          if (a !== winner) assert.equal(await check(b, a.bound.hash, at + 2), 'device_unbound');
        }
        assert.equal(
          await check(b, b.bound.hash, at + 3),
          'live',
          'the cookie it replaced is the previous one',
        );
        const loser = attempts.find((a) => a !== winner)!;
        assert.equal(reasonOf((await refresh(s, b, loser.next.hash, at + 4)).outcome), 'bad_challenge');
        assert.equal(reasonOf((await refresh(s, b, winner.next.hash, at + 5)).outcome), 'ok');
      });

      test('refuses another key: wrong_key (checked before the challenge), and uses nothing up', async (s) => {
        const b = await bound(s);
        const other = deviceKey().jkt;
        const wrong = await refresh(s, b, b.next.hash, T0 + MINUTE, other);
        assert.deepEqual(wrong.outcome, { ok: false, reason: 'wrong_key' });
        const both = await refresh(s, b, nearMiss(b.next.hash), T0 + MINUTE, other);
        assert.equal(reasonOf(both.outcome), 'wrong_key');
        assert.equal(await check(b, wrong.bound.hash, T0 + MINUTE + 1), 'device_unbound');
        assert.equal(reasonOf((await refresh(s, b, b.next.hash, T0 + MINUTE + 2)).outcome), 'ok');
      });

      test('refuses a challenge that is not the stored one (full hash compared): bad_challenge', async (s) => {
        const b = await bound(s);
        for (const challengeHash of [nearMiss(b.next.hash), b.challenge.hash, b.bound.hash]) {
          assert.equal(reasonOf((await refresh(s, b, challengeHash, T0 + MINUTE)).outcome), 'bad_challenge');
        }
        assert.equal(reasonOf((await refresh(s, b, b.next.hash, T0 + MINUTE + 1)).outcome), 'ok');
      });

      test('refuses an expired challenge: bad_challenge at its exact expiry, ok 1 ms before', async (s) => {
        const late = await bound(s);
        assert.equal(
          reasonOf((await refresh(s, late, late.next.hash, late.next.expiresAt)).outcome),
          'bad_challenge',
        );
        const inTime = await bound(s);
        assert.equal(
          reasonOf((await refresh(s, inTime, inTime.next.hash, inTime.next.expiresAt - 1)).outcome),
          'ok',
        );
      });

      test('refuses an unbound session, even with its registration challenge: not_bound', async (s) => {
        const m = await enrol();
        const o = await s.refreshDevice({
          ...call(m, T0 + 1),
          jkt: deviceKey().jkt,
          challengeHash: m.challenge.hash,
          bound: secret(T0 + BOUND_TTL),
          next: secret(T0 + CHALLENGE_TTL),
        });
        assert.deepEqual(o, { ok: false, reason: 'not_bound' });
        const bind = await s.bindDevice({
          ...call(m, T0 + 2),
          challengeHash: m.challenge.hash,
          ...bindArgs(T0 + 2),
        });
        assert.equal(reasonOf(bind), 'ok', 'the registration challenge was not used up');
      });
    });

    describe('the token a rotation replaced', () => {
      test('reaches every device method after a rotation; two rotations back is unknown', async (s) => {
        const b = await bound(s);
        const t1 = newToken(b.input.id);
        assert.ok(await store().rotate({ ...call(b, T0 + MINUTE), newTokenHash: t1.hash, patch: null }));
        const k = await s.deviceKey(call(b, T0 + MINUTE + 1));
        assert.ok(k.ok, reasonOf(k));
        assert.deepEqual(k.key, b.key);
        const challenge = secret(T0 + 2 * MINUTE + CHALLENGE_TTL);
        assert.equal(reasonOf(await s.deviceChallenge({ ...call(b, T0 + 2 * MINUTE), challenge })), 'ok');
        const r = await refresh(s, b, challenge.hash, T0 + 3 * MINUTE);
        assert.equal(reasonOf(r.outcome), 'ok');
        const again = await s.bindDevice({
          ...call(b, T0 + 3 * MINUTE),
          challengeHash: r.next.hash,
          ...bindArgs(T0 + 3 * MINUTE),
        });
        assert.equal(reasonOf(again), 'already_bound');
        const t2 = newToken(b.input.id);
        assert.ok(
          await store().rotate({
            ...call({ ...b, hash: t1.hash }, T0 + 4 * MINUTE),
            newTokenHash: t2.hash,
            patch: null,
          }),
        );
        assert.deepEqual(await s.deviceKey(call(b, T0 + 4 * MINUTE + 1)), { ok: false, reason: 'unknown' });
        assert.equal(reasonOf(await s.deviceKey(call({ ...b, hash: t1.hash }, T0 + 4 * MINUTE + 2))), 'ok');
        assert.equal(reasonOf(await s.deviceKey(call({ ...b, hash: t2.hash }, T0 + 4 * MINUTE + 3))), 'ok');
      });

      test('bindDevice accepts the token a rotation just replaced', async (s) => {
        const m = await enrol();
        const next = newToken(m.input.id);
        assert.ok(await store().rotate({ ...call(m, T0 + 1), newTokenHash: next.hash, patch: null }));
        const args = bindArgs(T0 + 2);
        const o = await s.bindDevice({ ...call(m, T0 + 2), challengeHash: m.challenge.hash, ...args });
        assert.ok(o.ok, reasonOf(o));
        assert.equal(
          await check({ ...m, hash: next.hash }, args.bound.hash, T0 + 3 + policy.bindingGraceMs),
          'live',
        );
      });

      test('the binding survives rotation: the new token still needs the bound cookie', async (s) => {
        const b = await bound(s);
        const next = newToken(b.input.id);
        const at = b.boundAt + policy.bindingGraceMs + 1;
        const r = await store().rotate({ ...call(b, at), newTokenHash: next.hash, patch: { mfa: true } });
        assert.ok(r);
        assert.equal(r.boundAt, b.boundAt);
        const rotated = { ...b, hash: next.hash };
        assert.equal(await check(rotated, b.bound.hash, at + 1), 'live');
        assert.equal(await check(rotated, null, at + 2), 'device_unbound');
        assert.equal(await check(b, b.bound.hash, at + 3), 'rotated');
        const k = await s.deviceKey(call(rotated, at + 4));
        assert.ok(k.ok);
        assert.deepEqual(k.key, b.key);
      });
    });

    describe('ended bound sessions', () => {
      const enders: [string, EndReason, (b: Bound, at: number) => Promise<unknown>][] = [
        ['logout', 'logged_out', (b, at) => store().logout(call(b, at))],
        [
          'revoke',
          'revoked',
          (b, at) =>
            store().revoke({ userId: b.input.userId, id: b.input.id, reason: 'revoked', now: at, policy }),
        ],
        [
          'revokeAll',
          'password_changed',
          (b, at) =>
            store().revokeAll({
              userId: b.input.userId,
              exceptId: null,
              reason: 'password_changed',
              now: at,
              policy,
            }),
        ],
        [
          'eviction',
          'evicted',
          (b, at) => create(b.input.userId, at, undefined, { max: 1, onLimit: 'evict-oldest' }),
        ],
      ];
      for (const [name, reason, end] of enders) {
        test(`after ${name}, every device method and validate with the bound cookie answer '${reason}'`, async (s) => {
          const b = await bound(s);
          await end(b, T0 + MINUTE);
          for (const method of DEVICE_METHODS) {
            const o = await deviceCalls[method](s, b, T0 + 2 * MINUTE);
            assert.equal(reasonOf(o), reason, method);
            assert.ok(!o.ok && !o.ended, `${method}: the session was already ended`);
          }
          assert.equal(await check(b, b.bound.hash, T0 + 3 * MINUTE), reason);
          assert.equal(await listed(b, T0 + 3 * MINUTE), undefined);
        });
      }

      for (const method of DEVICE_METHODS) {
        for (const [deadline, at] of [
          ['idle_timeout', T0 + policy.idleMs],
          ['absolute_timeout', T0 + policy.absoluteMs],
        ] as const) {
          test(`${method} past the deadline ends the session: '${deadline}' with ended: true once, then the tombstone's`, async (s) => {
            const b = await bound(s);
            const first = await deviceCalls[method](s, b, at);
            assert.ok(!first.ok);
            assert.equal(first.reason, deadline);
            assert.equal(first.ended, true);
            assert.equal(first.session?.id, b.input.id);
            assert.equal(first.session?.userId, b.input.userId);
            const again = await deviceCalls[method](s, b, at + 1);
            assert.ok(!again.ok);
            assert.equal(again.reason, deadline);
            assert.ok(!again.ended, 'only the first miss ends it');
            assert.equal(await check(b, b.bound.hash, at + 2), deadline);
          });
        }

        test(`${method} answers unknown for an unknown id or a wrong token`, async (s) => {
          const b = await bound(s);
          const stranger = { ...b, input: { ...b.input, id: make(b.input.userId).input.id } };
          assert.deepEqual(await deviceCalls[method](s, stranger, T0 + MINUTE), {
            ok: false,
            reason: 'unknown',
          });
          const forged = { ...b, hash: nearMiss(b.hash) };
          assert.deepEqual(await deviceCalls[method](s, forged, T0 + MINUTE), {
            ok: false,
            reason: 'unknown',
          });
        });

        test(`${method} does not slide the idle clock`, async (s) => {
          // Created (and last active) at T0; bindDevice binds an unbound session, the others use a bound one.
          const at = T0 + 10 * MINUTE;
          let b: DeviceContractMade;
          let o: DeviceOutcome | KeyOutcome;
          if (method === 'bindDevice') {
            const m = await enrol();
            b = m;
            o = await s.bindDevice({ ...call(m, at), challengeHash: m.challenge.hash, ...bindArgs(at) });
          } else {
            const bb = await bound(s);
            b = bb;
            o = await deviceCalls[method](s, bb, at);
          }
          assert.equal(reasonOf(o), 'ok');
          assert.ok(o.ok);
          assert.equal(o.session.lastActivityAt, T0);
          assert.equal((await listed(b, at + 1))?.lastActivityAt, T0);
          const v = await store().validate({ ...call(b, T0 + policy.idleMs), boundHash: null });
          assert.ok(!v.ok);
          assert.equal(v.reason, 'idle_timeout', 'the idle deadline still counts from the sign-in');
        });
      }
    });
  });
}
