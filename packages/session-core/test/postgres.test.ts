import { randomUUID } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { createTestDatabase, type TestDatabase } from '@tessera/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SessionConfigError, SessionStoreError } from '../src/errors.js';
import { createSessionManager } from '../src/manager.js';
import { migrate, migrationSql, type PgPoolLike, postgresStore } from '../src/stores/sql/postgres.js';
import { runSessionStoreContract } from '../src/testing/index.js';
import { newToken, randomSessionId } from '../src/tokens.js';
import { newSession, policy, runSqlStoreSuite } from './helpers/sql-suite.js';

// One fresh database for the whole file, dropped at the end.
let database: Promise<TestDatabase> | undefined;
const db = () => {
  database ??= createTestDatabase();
  return database;
};
afterAll(async () => {
  await (await database)?.drop();
});

/** A local port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

runSessionStoreContract({
  name: 'postgres',
  setup: async () => {
    // ~10 connections: the 200 parallel creates really do run concurrently on the server.
    const store = postgresStore({ pool: (await db()).pool({ max: 10 }) });
    await store.migrate();
    return { store };
  },
  test: { describe, it, beforeAll, afterAll },
});

// Once more under a table of another name, in a schema of its own: every statement follows the option.
runSessionStoreContract({
  name: 'postgres, table app_auth.user_sessions',
  setup: async () => {
    const pool = (await db()).pool({ max: 10 });
    await pool.query('CREATE SCHEMA IF NOT EXISTS app_auth');
    const store = postgresStore({ pool, table: 'app_auth.user_sessions' });
    await store.migrate();
    return { store };
  },
  test: { describe, it, beforeAll, afterAll },
});

runSqlStoreSuite('postgres', async () => {
  const pool = (await db()).pool({ max: 10 });
  return {
    store: postgresStore({ pool }),
    query: async (sql, params) => (await pool.query(sql, params)).rows,
    deadStore: async () => {
      const dead = new pg.Pool({
        host: '127.0.0.1',
        port: await closedPort(),
        connectionTimeoutMillis: 1_000,
      });
      return postgresStore({ pool: dead });
    },
    tableStore: (table) => postgresStore({ pool, table }),
    teardown: async () => {},
  };
});

describe('postgresStore', () => {
  let pool: pg.Pool;
  beforeAll(async () => {
    pool = (await db()).pool({ max: 10 });
    await migrate(pool);
  });

  /** The pool, counting what goes through it. */
  function counting(): { pool: PgPoolLike; statements: string[]; connects: () => number } {
    const statements: string[] = [];
    let connects = 0;
    return {
      statements,
      connects: () => connects,
      pool: {
        query: (text, values) => {
          statements.push(text);
          return pool.query(text, values);
        },
        connect: () => {
          connects++;
          return pool.connect();
        },
      },
    };
  }

  it('validate is a single UPDATE statement, whatever the outcome; so are the other one-row operations', async () => {
    const T0 = Date.now();
    const u = `pg-${randomUUID()}`;
    const s = newSession(u, T0);
    await postgresStore({ pool }).create({
      session: s.input,
      limit: { max: 5, onLimit: 'reject' },
      now: T0,
      policy,
    });
    const c = counting();
    const store = postgresStore({ pool: c.pool });
    const once = async (label: string, call: () => Promise<unknown>) => {
      c.statements.length = 0;
      await call();
      expect(c.statements, label).toHaveLength(1);
      return c.statements[0] ?? '';
    };

    const validate = (hash: Uint8Array, at: number) => () =>
      store.validate({ id: s.input.id, tokenHash: hash, now: at, policy });
    const sql = await once('live', validate(s.hash, T0 + 1));
    expect(sql.trim()).toMatch(/^UPDATE tessera_sessions\b/);
    expect(sql).toMatch(/RETURNING/);
    await once('unknown', validate(newToken(s.input.id).hash, T0 + 2));
    const next = newToken(s.input.id);
    await once('rotate', () =>
      store.rotate({
        id: s.input.id,
        tokenHash: s.hash,
        newTokenHash: next.hash,
        patch: { a: 1 },
        now: T0 + 3,
        policy,
      }),
    );
    await once('rotated', validate(s.hash, T0 + 4));
    await once('patch', () =>
      store.patch({ id: s.input.id, tokenHash: next.hash, patch: { b: 2 }, now: T0 + 5, policy }),
    );
    await once('list', () => store.list({ userId: u, now: T0 + 6, policy }));
    await once('updateUser', () =>
      store.updateUser({ userId: u, patch: { c: 3 }, rotate: true, now: T0 + 7, policy }),
    );
    expect(await store.validate({ id: s.input.id, tokenHash: next.hash, now: T0 + 8, policy })).toMatchObject(
      { ok: true },
    );
    await once('expired (ends it)', validate(next.hash, T0 + 8 + policy.idleMs));
    await once('tombstone', validate(next.hash, T0 + 9 + policy.idleMs));
    await once('logout', () => store.logout({ id: s.input.id, tokenHash: next.hash, now: T0 + 10, policy }));
    await once('revoke', () =>
      store.revoke({ userId: u, id: s.input.id, reason: 'revoked', now: T0 + 10, policy }),
    );
    await once('revokeAll', () =>
      store.revokeAll({ userId: u, exceptId: null, reason: 'revoked', now: T0 + 10, policy }),
    );

    // Device binding: each call is one statement too, whatever it answers; validate stays one UPDATE.
    const b = newSession(u, T0);
    const secret = (expiresAt: number) => ({ hash: newToken(b.input.id).hash, expiresAt });
    const challenge = secret(T0 + 60_000);
    await postgresStore({ pool }).create({
      session: { ...b.input, deviceChallenge: challenge },
      limit: { max: 5, onLimit: 'reject' },
      now: T0,
      policy,
    });
    const call = { id: b.input.id, tokenHash: b.hash, now: T0 + 1, policy };
    const key = { jkt: 'k'.repeat(43), jwk: '{}', alg: 'ES256' as const };
    const boundCookie = secret(T0 + 60_000);
    const nextChallenge = secret(T0 + 60_000);
    await once('deviceKey, not bound', () => store.deviceKey!(call));
    await once('bindDevice, bad challenge', () =>
      store.bindDevice!({
        ...call,
        challengeHash: nextChallenge.hash,
        key,
        bound: boundCookie,
        next: nextChallenge,
      }),
    );
    await once('bindDevice', () =>
      store.bindDevice!({
        ...call,
        challengeHash: challenge.hash,
        key,
        bound: boundCookie,
        next: nextChallenge,
      }),
    );
    await once('deviceChallenge', () => store.deviceChallenge!({ ...call, challenge: nextChallenge }));
    await once('deviceKey', () => store.deviceKey!(call));
    await once('refreshDevice', () =>
      store.refreshDevice!({
        ...call,
        jkt: key.jkt,
        challengeHash: nextChallenge.hash,
        bound: secret(T0 + 60_000),
        next: nextChallenge,
      }),
    );
    const bv = (boundHash: Uint8Array | null, at: number) => () =>
      store.validate({ id: b.input.id, tokenHash: b.hash, boundHash, now: at, policy });
    expect(await once('validate, bound', bv(boundCookie.hash, T0 + 2))).toMatch(
      /^\s*UPDATE tessera_sessions\b/,
    );
    await once('validate, device_unbound', bv(null, T0 + 2 + policy.bindingGraceMs));
    expect(await bv(null, T0 + 2 + policy.bindingGraceMs)()).toEqual({ ok: false, reason: 'device_unbound' });
    await once('deviceKey, ends it', () => store.deviceKey!({ ...call, now: T0 + 1 + policy.absoluteMs }));
    expect(c.connects()).toBe(0); // none of them needed a transaction
  });

  it('migrate on an up-to-date table takes no lock that would stop reads (ALTER TABLE only when needed)', async () => {
    const reader = await pool.connect();
    try {
      await reader.query('BEGIN');
      await reader.query('SELECT count(*) FROM tessera_sessions'); // holds ACCESS SHARE until COMMIT
      // An ALTER TABLE would wait for the reader (ACCESS EXCLUSIVE); migrate must finish without it.
      const done = migrate(pool).then(() => 'migrated');
      const waited = new Promise((resolve) => setTimeout(resolve, 3_000, 'blocked'));
      const outcome = await Promise.race([done, waited]);
      await reader.query('COMMIT');
      await done;
      expect(outcome).toBe('migrated');
    } finally {
      reader.release();
    }
  });

  it('validate racing revoke across many connections never leaves a session live', async () => {
    const T0 = Date.now();
    const store = postgresStore({ pool });
    const sessions = await Promise.all(
      Array.from({ length: 30 }, async () => {
        const s = newSession(`pg-${randomUUID()}`, T0);
        await store.create({ session: s.input, limit: { max: 5, onLimit: 'reject' }, now: T0, policy });
        return s;
      }),
    );
    await Promise.all(
      sessions.flatMap((s) => [
        ...Array.from({ length: 10 }, (_, i) =>
          store.validate({ id: s.input.id, tokenHash: s.hash, now: T0 + 1 + i, policy }),
        ),
        store.revoke({ userId: s.input.userId, id: s.input.id, reason: 'revoked', now: T0 + 5, policy }),
        ...Array.from({ length: 10 }, (_, i) =>
          store.validate({ id: s.input.id, tokenHash: s.hash, now: T0 + 11 + i, policy }),
        ),
      ]),
    );
    for (const s of sessions) {
      expect(await store.validate({ id: s.input.id, tokenHash: s.hash, now: T0 + 100, policy })).toEqual({
        ok: false,
        reason: 'revoked',
      });
    }
  });

  it('validate updates are HOT (no index writes) thanks to the schema', async () => {
    // A database of its own, so the page the row lands on is not full of other tests' rows.
    const own = await createTestDatabase();
    try {
      const p = own.pool({ max: 1 });
      await migrate(p);
      const T0 = Date.now();
      const s = newSession(`pg-${randomUUID()}`, T0);
      await postgresStore({ pool: p }).create({
        session: s.input,
        limit: { max: 5, onLimit: 'reject' },
        now: T0,
        policy,
      });
      // Run the validations inside one transaction so that its own statistics are exact.
      const client = await p.connect();
      try {
        await client.query('BEGIN');
        const store = postgresStore({
          pool: { query: (t, v) => client.query(t, v), connect: () => p.connect() },
        });
        for (let i = 1; i <= 5; i++)
          expect((await store.validate({ id: s.input.id, tokenHash: s.hash, now: T0 + i, policy })).ok).toBe(
            true,
          );
        const [stats] = (
          await client.query(
            `SELECT pg_stat_get_xact_tuples_updated('tessera_sessions'::regclass) AS updated,
                    pg_stat_get_xact_tuples_hot_updated('tessera_sessions'::regclass) AS hot`,
          )
        ).rows;
        expect(Number(stats.updated)).toBe(5);
        expect(Number(stats.hot)).toBe(5);
        await client.query('COMMIT');
      } finally {
        client.release();
      }
    } finally {
      await own.drop();
    }
  });

  describe('the table option and the exported migration', () => {
    it('migrate(pool, { table }) creates that table only, and the store reads and writes only it', async () => {
      const own = await createTestDatabase();
      try {
        const p = own.pool({ max: 2 });
        await p.query('CREATE SCHEMA app_auth');
        await migrate(p, { table: 'app_auth.user_sessions' });
        const names = async (sql: string) => (await p.query(sql)).rows.map((r) => Object.values(r)[0]);
        expect(await names(`SELECT to_regclass('tessera_sessions')`)).toEqual([null]);
        expect(
          await names(`SELECT indexname FROM pg_indexes WHERE schemaname = 'app_auth' ORDER BY 1`),
        ).toEqual(['user_sessions_pkey', 'user_sessions_user_id_idx']);
        expect(
          await names(
            `SELECT conname FROM pg_constraint WHERE conrelid = 'app_auth.user_sessions'::regclass AND contype = 'c' ORDER BY 1`,
          ),
        ).toEqual(['user_sessions_ended', 'user_sessions_token_hash_len']);
        const store = postgresStore({ pool: p, table: 'app_auth.user_sessions' });
        const T0 = Date.now();
        const s = newSession(`pg-${randomUUID()}`, T0);
        await store.create({ session: s.input, limit: { max: 3, onLimit: 'reject' }, now: T0, policy });
        expect((await store.validate({ id: s.input.id, tokenHash: s.hash, now: T0 + 1, policy })).ok).toBe(
          true,
        );
        expect(await names('SELECT count(*)::int FROM app_auth.user_sessions')).toEqual([1]);
      } finally {
        await own.drop();
      }
    });

    it('migrationSql() is the schema to hand to your own migration tool: applied as is, the store works', async () => {
      const own = await createTestDatabase();
      try {
        const p = own.pool({ max: 2 });
        const sql = migrationSql();
        expect(sql).toContain('CREATE TABLE IF NOT EXISTS tessera_sessions (');
        expect(sql).toContain(
          'CREATE INDEX IF NOT EXISTS tessera_sessions_user_id_idx ON tessera_sessions (user_id)',
        );
        await p.query(sql); // as a migration tool would: the script, no migrate()
        await p.query(sql); // idempotent
        const store = postgresStore({ pool: p });
        const T0 = Date.now();
        const s = newSession(`pg-${randomUUID()}`, T0);
        await store.create({ session: s.input, limit: { max: 3, onLimit: 'reject' }, now: T0, policy });
        expect((await store.validate({ id: s.input.id, tokenHash: s.hash, now: T0 + 1, policy })).ok).toBe(
          true,
        );
        expect(migrationSql({ table: 'auth.sessions' })).toContain(
          'CREATE INDEX IF NOT EXISTS sessions_user_id_idx ON auth.sessions (user_id)',
        );
      } finally {
        await own.drop();
      }
    });

    it.each([
      ['an injection', 'sessions; DROP TABLE users'],
      ['upper case (PostgreSQL would fold it)', 'Sessions'],
      ['a leading digit', '1sessions'],
      ['three parts', 'db.app.sessions'],
      ['a quoted name', '"sessions"'],
      ['nothing', ''],
      ['a name too long for its derived names', 's'.repeat(49)],
      ['not a string', 42],
    ])('refuses %s as table name at construction (SessionConfigError)', (_label, table) => {
      expect(() => postgresStore({ pool, table: table as string })).toThrow(SessionConfigError);
      expect(() => migrationSql({ table: table as string })).toThrow(
        /table must be a lower-case SQL identifier/,
      );
    });
  });

  describe('when the server is not there', () => {
    it('fails fast with STORE_UNAVAILABLE when a server accepts connections but never answers', async () => {
      const sockets = new Set<Socket>();
      const silent: Server = createServer((socket) => sockets.add(socket));
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      const { port } = silent.address() as { port: number };
      const hung = new pg.Pool({ host: '127.0.0.1', port, connectionTimeoutMillis: 300 });
      try {
        const sessions = createSessionManager({ store: postgresStore({ pool: hung }) });
        const started = Date.now();
        const error = await sessions.validate(newToken(randomSessionId()).token).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(SessionStoreError);
        expect((error as SessionStoreError).code).toBe('STORE_UNAVAILABLE');
        expect(Date.now() - started).toBeLessThan(5_000);
      } finally {
        await hung.end();
        for (const socket of sockets) socket.destroy();
        await new Promise((resolve) => silent.close(resolve));
      }
    });

    it('a pool whose database went away fails every call closed, never as "no session"', async () => {
      const doomed = await createTestDatabase();
      // Not made by `doomed`, so that drop() leaves it open, holding connections to a vanished database.
      const p = new pg.Pool({ connectionString: doomed.url, max: 2, connectionTimeoutMillis: 1_000 });
      p.on('error', () => {});
      const store = postgresStore({ pool: p });
      await store.migrate();
      const sessions = createSessionManager({ store });
      const userId = `pg-${randomUUID()}`;
      const { token } = await sessions.create({ userId });
      expect((await sessions.validate(token)).session).not.toBeNull();
      await doomed.drop(); // terminates the pool's connections and removes the database
      for (const call of [
        () => sessions.validate(token),
        () => sessions.validate(token),
        () => sessions.create({ userId }),
        () => sessions.list(userId),
      ]) {
        const error = await call().catch((e: unknown) => e);
        expect(error).toBeInstanceOf(SessionStoreError);
        expect((error as SessionStoreError).code).toBe('STORE_UNAVAILABLE');
      }
      await p.end();
    });
  });
});
