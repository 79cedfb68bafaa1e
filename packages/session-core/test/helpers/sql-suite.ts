import { createHash, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SessionError, SessionStoreError } from '../../src/errors.js';
import { createSessionManager } from '../../src/manager.js';
import type { NewSession, SessionLimit, StorePolicy } from '../../src/store.js';
import type { SqlSessionStore } from '../../src/stores/sql/sql-store.js';
import { newToken, randomSessionId } from '../../src/tokens.js';

export type Row = Record<string, unknown>;

export interface SqlHarness {
  store: SqlSessionStore;
  /** Runs SQL on the same database, outside the store (to inspect rows). */
  query(sql: string, params?: unknown[]): Promise<Row[]>;
  /** A store whose database is unreachable (closed port, closed PGlite, dropped database...). */
  deadStore(): Promise<SqlSessionStore>;
  /** A store over another table of the same database, which it neither creates nor migrates by itself. */
  tableStore(table: string): SqlSessionStore;
  teardown(): Promise<void>;
}

const MINUTE = 60_000;
export const policy: StorePolicy = {
  idleMs: 30 * MINUTE,
  absoluteMs: 8 * 60 * MINUTE,
  tombstoneMs: 60 * MINUTE,
  bindingGraceMs: 10_000,
};
const roomy: SessionLimit = { max: 10, onLimit: 'reject' };

/**
 * The sessions table exactly as 1.0.0's `migrationSql()` created it (before device binding), one
 * statement per entry (PGlite's `query` runs one at a time): what `migrate()` must upgrade in place.
 */
function schemaOf100(t: string): string[] {
  return [
    `CREATE TABLE IF NOT EXISTS ${t} (
  id               text    PRIMARY KEY,
  user_id          text    NOT NULL,
  token_hash       bytea   NOT NULL,
  prev_token_hash  bytea,
  data             jsonb   NOT NULL DEFAULT '{}'::jsonb,
  created_at       bigint  NOT NULL,
  last_activity_at bigint  NOT NULL,
  user_agent       text,
  ip               text,
  rotate_pending   boolean NOT NULL DEFAULT false,
  ended_reason     text,
  ended_at         bigint,
  CONSTRAINT ${t}_token_hash_len CHECK (octet_length(token_hash) = 32),
  CONSTRAINT ${t}_ended CHECK ((ended_reason IS NULL) = (ended_at IS NULL))
) WITH (fillfactor = 80)`,
    `CREATE INDEX IF NOT EXISTS ${t}_user_id_idx ON ${t} (user_id)`,
  ];
}

/** The device-binding columns, with their types: nullable, never indexed. */
const DEVICE_COLUMNS = {
  dbsc_challenge: 'bytea',
  dbsc_challenge_expires_at: 'bigint',
  bound_jkt: 'text',
  bound_jwk: 'text',
  bound_alg: 'text',
  bound_at: 'bigint',
  bound_hash: 'bytea',
  bound_expires_at: 'bigint',
  bound_prev_hash: 'bytea',
  bound_prev_expires_at: 'bigint',
};

/** A DBSC secret as the manager hands it to a store: SHA-256 of something random, and an expiry. */
function storedSecret(expiresAt: number) {
  return { hash: newToken(randomSessionId()).hash, expiresAt };
}

const deviceKey = {
  jkt: 'Fp2tCaAmQ9bSqX6l2gN0aRt0SG1p8yPz0mH4jkq2d-U',
  jwk: '{"crv":"P-256","kty":"EC","x":"x","y":"y"}',
  alg: 'ES256' as const,
};

const hex = (bytes: unknown) => (bytes === null ? null : Buffer.from(bytes as Uint8Array).toString('hex'));

export function newSession(userId: string, at: number, data: Record<string, unknown> = { role: 'user' }) {
  const id = randomSessionId(); // SQL stores make no ids: the manager's are random
  const { token, hash } = newToken(id);
  const input: NewSession = {
    id,
    tokenHash: hash,
    userId,
    data,
    createdAt: at,
    userAgent: 'UA/1',
    ip: '192.0.2.1',
  };
  return { input, token, hash };
}

/**
 * What the SQL stores guarantee beyond the shared contract (which both test files also run): the
 * rows themselves (hashes only, tombstones, pruning), sweep, migrations, failures, exactly-once
 * `ended` under concurrency. Timestamps sit far in the past (2001) so that sweep() never touches the
 * contract suite's rows, which live around the real clock.
 */
export function runSqlStoreSuite(name: string, setup: () => Promise<SqlHarness>): void {
  describe(`${name}: SQL store specifics`, () => {
    let h: SqlHarness;
    let store: SqlSessionStore;
    const T0 = 1_000_000_000_000;
    const user = () => `sql-${randomUUID()}`;
    const rowOf = async (id: string) =>
      (await h.query('SELECT * FROM tessera_sessions WHERE id = $1', [id]))[0];
    const create = async (userId: string, at: number, limit = roomy) => {
      const s = newSession(userId, at);
      const outcome = await store.create({ session: s.input, limit, now: at, policy });
      expect(outcome.ok).toBe(true);
      return s;
    };

    beforeAll(async () => {
      h = await setup();
      store = h.store;
      await store.migrate();
    });
    afterAll(async () => {
      await h?.teardown();
    });

    it('migrate is idempotent, also when run concurrently', async () => {
      await Promise.all([store.migrate(), store.migrate(), store.migrate()]);
      const idx = await h.query(
        `SELECT indexname FROM pg_indexes WHERE tablename = 'tessera_sessions' ORDER BY 1`,
      );
      expect(idx.map((r) => r.indexname)).toEqual(['tessera_sessions_pkey', 'tessera_sessions_user_id_idx']);
      const [opts] = await h.query(`SELECT reloptions FROM pg_class WHERE relname = 'tessera_sessions'`);
      expect(opts?.reloptions).toEqual(['fillfactor=80']);
    });

    it('a table made by 1.0.0 upgrades in place: no rewrite, its sessions go on unbound, new ones bind', async () => {
      const table = `v100_${randomUUID().replaceAll('-', '')}`;
      for (const statement of schemaOf100(table)) await h.query(statement);
      // A session 1.0.0 created, with 1.0.0's INSERT.
      const old = newSession(user(), T0);
      await h.query(
        `INSERT INTO ${table} (id, user_id, token_hash, data, created_at, last_activity_at, user_agent, ip)
         VALUES ($1, $2, $3, $4::text::jsonb, $5::bigint, $5::bigint, $6, $7)`,
        [old.input.id, old.input.userId, old.hash, '{"role":"user"}', T0, 'UA/1', '192.0.2.1'],
      );
      const storage = async () =>
        (await h.query(`SELECT relfilenode FROM pg_class WHERE oid = '${table}'::regclass`))[0]?.relfilenode;
      const before = await storage();

      const upgraded = h.tableStore(table);
      await upgraded.migrate();
      await upgraded.migrate(); // idempotent on the upgraded table too

      expect(await storage()).toBe(before); // same file: the table was not rewritten
      const columns = await h.query(
        `SELECT column_name, data_type, is_nullable, column_default FROM information_schema.columns
         WHERE table_name = $1 AND column_name = ANY($2::text[]) ORDER BY column_name`,
        [table, Object.keys(DEVICE_COLUMNS)],
      );
      expect(columns).toEqual(
        Object.entries(DEVICE_COLUMNS)
          .sort(([a], [b]) => (a < b ? -1 : 1))
          .map(([column_name, data_type]) => ({
            column_name,
            data_type,
            is_nullable: 'YES',
            column_default: null,
          })),
      );
      const indexes = await h.query(`SELECT indexname FROM pg_indexes WHERE tablename = $1 ORDER BY 1`, [
        table,
      ]);
      expect(indexes.map((r) => r.indexname)).toEqual([`${table}_pkey`, `${table}_user_id_idx`]);

      // The old session goes on, unbound; it was offered no challenge, so it can never bind.
      const call = { id: old.input.id, tokenHash: old.hash, policy };
      expect(await upgraded.validate({ ...call, now: T0 + MINUTE })).toMatchObject({
        ok: true,
        session: { id: old.input.id, boundAt: null, lastActivityAt: T0 + MINUTE },
      });
      const bound = storedSecret(T0 + 12 * MINUTE);
      const attempt = {
        ...call,
        now: T0 + 2 * MINUTE,
        challengeHash: storedSecret(T0 + 15 * MINUTE).hash,
        key: deviceKey,
        bound,
        next: storedSecret(T0 + 30 * MINUTE),
      };
      expect(await upgraded.bindDevice!(attempt)).toEqual({ ok: false, reason: 'bad_challenge' });

      // A session created after the upgrade binds, and from then on needs its bound cookie.
      const fresh = newSession(old.input.userId, T0 + 2 * MINUTE);
      const challenge = storedSecret(T0 + 17 * MINUTE);
      const at = T0 + 2 * MINUTE;
      expect(
        await upgraded.create({
          session: { ...fresh.input, deviceChallenge: challenge },
          limit: roomy,
          now: at,
          policy,
        }),
      ).toEqual({ ok: true, evicted: [] });
      const mine = { id: fresh.input.id, tokenHash: fresh.hash, policy };
      expect(
        await upgraded.bindDevice!({ ...attempt, ...mine, now: at + 1, challengeHash: challenge.hash }),
      ).toMatchObject({ ok: true, session: { id: fresh.input.id, boundAt: at + 1 } });
      const late = at + 1 + policy.bindingGraceMs;
      expect(await upgraded.validate({ ...mine, now: late })).toEqual({
        ok: false,
        reason: 'device_unbound',
      });
      expect(await upgraded.validate({ ...mine, now: late, boundHash: bound.hash })).toMatchObject({
        ok: true,
        session: { boundAt: at + 1, lastActivityAt: late },
      });
      expect(
        (await upgraded.list({ userId: old.input.userId, now: late, policy })).map((s) => s.boundAt),
      ).toEqual([null, at + 1]);
    });

    it('device binding writes its own columns, never last_activity_at; a device_unbound request writes nothing', async () => {
      const s = newSession(user(), T0);
      const challenge = storedSecret(T0 + 15 * MINUTE);
      await store.create({
        session: { ...s.input, deviceChallenge: challenge },
        limit: roomy,
        now: T0,
        policy,
      });
      const device = async () => {
        const row = await rowOf(s.input.id);
        const out: Record<string, unknown> = { last_activity_at: Number(row?.last_activity_at) };
        for (const [column, type] of Object.entries(DEVICE_COLUMNS))
          out[column] =
            type === 'bytea'
              ? hex(row?.[column])
              : type === 'bigint' && row?.[column] !== null
                ? Number(row?.[column])
                : row?.[column];
        return out;
      };
      const none = Object.fromEntries(Object.keys(DEVICE_COLUMNS).map((c) => [c, null]));
      expect(await device()).toEqual({
        ...none,
        last_activity_at: T0,
        dbsc_challenge: hex(challenge.hash),
        dbsc_challenge_expires_at: challenge.expiresAt,
      });

      const call = { id: s.input.id, tokenHash: s.hash, policy };
      const bound = storedSecret(T0 + 12 * MINUTE);
      const next = storedSecret(T0 + 30 * MINUTE);
      expect(
        await store.bindDevice!({
          ...call,
          now: T0 + MINUTE,
          challengeHash: challenge.hash,
          key: deviceKey,
          bound,
          next,
        }),
      ).toMatchObject({ ok: true, session: { boundAt: T0 + MINUTE, lastActivityAt: T0 } });
      const afterBind = {
        ...none,
        last_activity_at: T0,
        dbsc_challenge: hex(next.hash),
        dbsc_challenge_expires_at: next.expiresAt,
        bound_jkt: deviceKey.jkt,
        bound_jwk: deviceKey.jwk,
        bound_alg: deviceKey.alg,
        bound_at: T0 + MINUTE,
        bound_hash: hex(bound.hash),
        bound_expires_at: bound.expiresAt,
      };
      expect(await device()).toEqual(afterBind);

      // A copied session cookie without the bound one: refused, and the row is exactly as it was.
      const whole = async () =>
        JSON.stringify(
          await h.query(`SELECT *, encode(token_hash, 'hex') AS th FROM tessera_sessions WHERE id = $1`, [
            s.input.id,
          ]),
        );
      const before = await whole();
      for (const boundHash of [undefined, null, storedSecret(0).hash, challenge.hash])
        expect(await store.validate({ ...call, now: T0 + 5 * MINUTE, boundHash })).toEqual({
          ok: false,
          reason: 'device_unbound',
        });
      expect(await whole()).toBe(before);
      expect(await store.deviceKey!({ ...call, now: T0 + 5 * MINUTE })).toEqual({
        ok: true,
        key: deviceKey,
        session: expect.objectContaining({ boundAt: T0 + MINUTE, lastActivityAt: T0 }),
      });
      expect(await whole()).toBe(before);

      // A refresh: the bound cookie moves to the previous columns, the challenge is used up.
      const bound2 = storedSecret(T0 + 20 * MINUTE);
      const next2 = storedSecret(T0 + 40 * MINUTE);
      expect(
        await store.refreshDevice!({
          ...call,
          now: T0 + 6 * MINUTE,
          jkt: deviceKey.jkt,
          challengeHash: next.hash,
          bound: bound2,
          next: next2,
        }),
      ).toMatchObject({ ok: true });
      expect(await device()).toEqual({
        ...afterBind,
        dbsc_challenge: hex(next2.hash),
        dbsc_challenge_expires_at: next2.expiresAt,
        bound_hash: hex(bound2.hash),
        bound_expires_at: bound2.expiresAt,
        bound_prev_hash: hex(bound.hash),
        bound_prev_expires_at: bound.expiresAt,
      });
    });

    it('ended_reason is plain text: no CHECK lists the reasons, so a new reason needs no migration', async () => {
      const checks = await h.query(
        `SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint
         WHERE conrelid = 'tessera_sessions'::regclass AND contype = 'c' ORDER BY 1`,
      );
      expect(checks.map((r) => r.conname)).toEqual([
        'tessera_sessions_ended',
        'tessera_sessions_token_hash_len',
      ]);
      for (const { def } of checks) expect(def).not.toMatch(/'(revoked|password_changed|logged_out)'/);
      const [column] = await h.query(
        `SELECT data_type FROM information_schema.columns
         WHERE table_name = 'tessera_sessions' AND column_name = 'ended_reason'`,
      );
      expect(column?.data_type).toBe('text');
    });

    it('a dump of the table holds only hashes, never a usable token', async () => {
      const u = user();
      const s = await create(u, T0);
      const next = newToken(s.input.id);
      expect(
        await store.rotate({
          id: s.input.id,
          tokenHash: s.hash,
          newTokenHash: next.hash,
          patch: null,
          now: T0 + 1,
          policy,
        }),
      ).not.toBeNull();
      const dump = JSON.stringify(
        await h.query(
          `SELECT *, encode(token_hash, 'hex') AS th, encode(prev_token_hash, 'hex') AS ph
                       FROM tessera_sessions WHERE user_id = $1`,
          [u],
        ),
      );
      for (const token of [s.token, next.token]) {
        expect(dump).not.toContain(token);
        expect(dump).not.toContain(token.split('.')[1]);
      }
      const row = await rowOf(s.input.id);
      const sha = (t: string) => createHash('sha256').update(t).digest('hex');
      expect(Buffer.from(row?.token_hash as Uint8Array).toString('hex')).toBe(sha(next.token));
      expect(Buffer.from(row?.prev_token_hash as Uint8Array).toString('hex')).toBe(sha(s.token));
    });

    it('validate touches last_activity_at in place and never moves it backwards', async () => {
      const s = await create(user(), T0);
      const v = await store.validate({ id: s.input.id, tokenHash: s.hash, now: T0 + 5 * MINUTE, policy });
      expect(v.ok && v.session.lastActivityAt).toBe(T0 + 5 * MINUTE);
      expect(Number((await rowOf(s.input.id))?.last_activity_at)).toBe(T0 + 5 * MINUTE);
      // A request stamped by a server whose clock lags keeps the later activity.
      const late = await store.validate({ id: s.input.id, tokenHash: s.hash, now: T0 + 4 * MINUTE, policy });
      expect(late.ok && late.session.lastActivityAt).toBe(T0 + 5 * MINUTE);
    });

    it('a deadline miss writes the tombstone in the same statement, without touching', async () => {
      const s = await create(user(), T0);
      const at = T0 + policy.idleMs;
      const v = await store.validate({ id: s.input.id, tokenHash: s.hash, now: at, policy });
      expect(v).toMatchObject({
        ok: false,
        reason: 'idle_timeout',
        ended: true,
        session: { lastActivityAt: T0 },
      });
      const row = await rowOf(s.input.id);
      expect(row).toMatchObject({ ended_reason: 'idle_timeout', rotate_pending: false });
      expect(Number(row?.ended_at)).toBe(at);
      expect(Number(row?.last_activity_at)).toBe(T0);
    });

    it('validate racing validate at expiry reports `ended` exactly once', async () => {
      const s = await create(user(), T0);
      const at = T0 + policy.absoluteMs;
      const outcomes = await Promise.all(
        Array.from({ length: 20 }, () =>
          store.validate({ id: s.input.id, tokenHash: s.hash, now: at, policy }),
        ),
      );
      expect(outcomes.filter((o) => !o.ok && o.ended).length).toBe(1);
      expect(outcomes.every((o) => !o.ok && o.reason === 'absolute_timeout')).toBe(true);
    });

    it('reports every end reason from its tombstone, until the tombstone time is over', async () => {
      const u = user();
      const [a, b, c, d, e] = [
        await create(u, T0),
        await create(u, T0 + 1),
        await create(u, T0 + 2),
        await create(u, T0 + 3),
        await create(u, T0 + 4),
      ];
      await store.logout({ id: a.input.id, tokenHash: a.hash, now: T0 + 10, policy });
      await store.revoke({ userId: u, id: b.input.id, reason: 'revoked', now: T0 + 10, policy });
      await store.revoke({ userId: u, id: e.input.id, reason: 'account_disabled', now: T0 + 10, policy });
      await store.revokeAll({
        userId: u,
        exceptId: d.input.id,
        reason: 'password_changed',
        now: T0 + 10,
        policy,
      });
      expect(
        await store.create({
          session: newSession(u, T0 + 11).input,
          limit: { max: 1, onLimit: 'evict-oldest' },
          now: T0 + 11,
          policy,
        }),
      ).toMatchObject({ ok: true, evicted: [{ id: d.input.id }] });
      const expected = [
        [a, 'logged_out'],
        [b, 'revoked'],
        [c, 'password_changed'],
        [d, 'evicted'],
        [e, 'account_disabled'],
      ] as const;
      for (const [s, reason] of expected) {
        const last = T0 + 10 + policy.tombstoneMs - 1;
        expect(await store.validate({ id: s.input.id, tokenHash: s.hash, now: last, policy })).toEqual({
          ok: false,
          reason,
        });
      }
      // d was evicted at T0 + 11: its tombstone lasts 1 ms longer than the others.
      expect(
        await store.validate({
          id: a.input.id,
          tokenHash: a.hash,
          now: T0 + 10 + policy.tombstoneMs,
          policy,
        }),
      ).toEqual({
        ok: false,
        reason: 'unknown',
      });
      expect(
        await store.validate({
          id: d.input.id,
          tokenHash: d.hash,
          now: T0 + 10 + policy.tombstoneMs,
          policy,
        }),
      ).toEqual({
        ok: false,
        reason: 'evicted',
      });
      expect(await rowOf(a.input.id)).toMatchObject({ ended_reason: 'logged_out' }); // until sweep
      expect(await rowOf(e.input.id)).toMatchObject({ ended_reason: 'account_disabled' });
    });

    it('the old token of a rotated session reads as rotated while it is open, unknown once ended', async () => {
      const s = await create(user(), T0);
      const next = newToken(s.input.id);
      await store.rotate({
        id: s.input.id,
        tokenHash: s.hash,
        newTokenHash: next.hash,
        patch: null,
        now: T0 + 1,
        policy,
      });
      expect(await store.validate({ id: s.input.id, tokenHash: s.hash, now: T0 + 2, policy })).toEqual({
        ok: false,
        reason: 'rotated',
      });
      // A stale token never touches the session.
      expect(Number((await rowOf(s.input.id))?.last_activity_at)).toBe(T0 + 1);
      await store.logout({ id: s.input.id, tokenHash: next.hash, now: T0 + 3, policy });
      expect(await store.validate({ id: s.input.id, tokenHash: s.hash, now: T0 + 4, policy })).toEqual({
        ok: false,
        reason: 'unknown',
      });
    });

    it('create prunes the dead rows of the user with the reason the policy gives', async () => {
      const u = user();
      const abs = await create(u, T0);
      // Keep `abs` active so that only its absolute deadline can pass.
      for (let at = T0 + 20 * MINUTE; at < T0 + policy.absoluteMs; at += 20 * MINUTE)
        expect((await store.validate({ id: abs.input.id, tokenHash: abs.hash, now: at, policy })).ok).toBe(
          true,
        );
      const at = T0 + policy.absoluteMs; // exactly abs's absolute deadline...
      const idle = await create(u, at - policy.idleMs); // ...and exactly idle's idle deadline
      const live = await create(u, at - 1);
      await create(u, at, { max: 2, onLimit: 'reject' });
      expect(await rowOf(idle.input.id)).toMatchObject({ ended_reason: 'idle_timeout' });
      expect(await rowOf(abs.input.id)).toMatchObject({ ended_reason: 'absolute_timeout' });
      expect(await rowOf(live.input.id)).toMatchObject({ ended_reason: null });
      expect(Number((await rowOf(abs.input.id))?.ended_at)).toBe(at);
    });

    it('sweep deletes old tombstones and long-dead rows at their exact times, and counts them', async () => {
      const base = T0 + 1_000 * MINUTE; // apart from the rows of the other tests
      const u = user();
      const ended = await create(u, base);
      await store.logout({ id: ended.input.id, tokenHash: ended.hash, now: base + MINUTE, policy });
      const idle = await create(u, base); // nearer deadline: base + idle
      const active = await create(u, base);
      for (let at = base + 20 * MINUTE; at < base + policy.absoluteMs; at += 20 * MINUTE)
        await store.validate({ id: active.input.id, tokenHash: active.hash, now: at, policy }); // nearer deadline: base + absolute

      const ids = [ended, idle, active].map((s) => s.input.id);
      const remaining = async () =>
        (await h.query('SELECT id FROM tessera_sessions WHERE id = ANY($1::text[])', [ids])).map((r) => r.id);
      const tomb = policy.tombstoneMs;
      // The first sweep also clears what the earlier tests left (all of it older); none of these rows.
      await store.sweep({ now: base + MINUTE + tomb - 1, policy });
      expect(await remaining()).toHaveLength(3);
      expect(await store.sweep({ now: base + MINUTE + tomb, policy })).toBe(1); // the logged-out tombstone
      expect(await remaining()).toEqual(expect.arrayContaining([idle.input.id, active.input.id]));
      expect(await store.sweep({ now: base + policy.idleMs + tomb - 1, policy })).toBe(0);
      expect(await store.sweep({ now: base + policy.idleMs + tomb, policy })).toBe(1);
      expect(await remaining()).toEqual([active.input.id]);
      expect(await store.sweep({ now: base + policy.absoluteMs + tomb - 1, policy })).toBe(0);
      expect(await store.sweep({ now: base + policy.absoluteMs + tomb, policy })).toBe(1);
      expect(await remaining()).toEqual([]);
      expect(
        await store.validate({
          id: active.input.id,
          tokenHash: active.hash,
          now: base + policy.absoluteMs + tomb,
          policy,
        }),
      ).toEqual({
        ok: false,
        reason: 'unknown',
      });
    });

    it('an unreachable database is a SessionStoreError (STORE_UNAVAILABLE) from every manager operation', async () => {
      const dead = await h.deadStore();
      const sessions = createSessionManager({ store: dead });
      const id = randomSessionId();
      const { token } = newToken(id);
      const calls: Array<[string, () => Promise<unknown>]> = [
        ['create', () => sessions.create({ userId: 'u' })],
        ['validate', () => sessions.validate(token)],
        ['rotate', () => sessions.rotate(token)],
        ['patch', () => sessions.patch(token, { x: 1 })],
        ['logout', () => sessions.logout(token)],
        ['revoke', () => sessions.revoke('u', id)],
        ['revokeAll', () => sessions.revokeAll('u')],
        ['list', () => sessions.list('u')],
        ['updateUser', () => sessions.updateUser('u', { x: 1 })],
        ['sweep', () => sessions.sweep()],
        // The one store call no manager makes (apps run it at boot): the store wraps it itself.
        ['migrate', () => dead.migrate()],
      ];
      for (const [op, call] of calls) {
        const error = await call().then(
          () => null,
          (e: unknown) => e,
        );
        expect(error, op).toBeInstanceOf(SessionStoreError);
        expect((error as SessionStoreError).code, op).toBe('STORE_UNAVAILABLE');
        expect((error as SessionStoreError).message, op).toContain(`${dead.name} store: ${op} failed`);
        // Wrapped once: the cause is the driver's own error, not another SessionError.
        expect((error as SessionStoreError).cause, op).toBeInstanceOf(Error);
        expect((error as SessionStoreError).cause, op).not.toBeInstanceOf(SessionError);
      }
    });

    it('a store called directly lets the driver error through: the manager is the one place that wraps', async () => {
      const dead = await h.deadStore();
      const s = newSession(user(), T0);
      const error = await dead.validate({ id: s.input.id, tokenHash: s.hash, now: T0, policy }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(Error);
      expect(error).not.toBeInstanceOf(SessionError);
    });
  });
}
