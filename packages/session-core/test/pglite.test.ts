import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, migrationSql, pgliteStore } from '../src/stores/sql/pglite.js';
import { runSessionStoreContract } from '../src/testing/index.js';
import { newToken } from '../src/tokens.js';
import { newSession, policy, runSqlStoreSuite } from './helpers/sql-suite.js';

// One on-disk PGlite for the contract and the SQL suite (opening one takes a few seconds).
const root = mkdtempSync(join(tmpdir(), 'tessera-pglite-'));
let shared: Promise<PGlite> | undefined;
const sharedDb = () => {
  shared ??= PGlite.create(join(root, 'shared'));
  return shared;
};
afterAll(async () => {
  await (await shared)?.close();
  rmSync(root, { recursive: true, force: true });
});

runSessionStoreContract({
  name: 'pglite',
  setup: async () => ({ store: pgliteStore({ db: await sharedDb() }) }),
  test: { describe, it, beforeAll, afterAll },
});

runSqlStoreSuite('pglite', async () => {
  const db = await sharedDb();
  return {
    store: pgliteStore({ db }),
    query: async (sql, params) => (await db.query<Record<string, unknown>>(sql, params)).rows,
    deadStore: async () => {
      const closed = await PGlite.create(); // in memory
      await closed.close();
      return pgliteStore({ db: closed });
    },
    tableStore: (table) => pgliteStore({ db, table, autoMigrate: false }),
    teardown: async () => {},
  };
});

describe('pgliteStore', () => {
  it('needs no setup step: the first call creates the table', async () => {
    const db = await PGlite.create(); // a fresh, empty database
    try {
      const T0 = Date.now();
      const s = newSession('u-fresh', T0);
      const store = pgliteStore({ db });
      expect(
        await store.create({ session: s.input, limit: { max: 3, onLimit: 'reject' }, now: T0, policy }),
      ).toEqual({
        ok: true,
        evicted: [],
      });
      expect((await store.validate({ id: s.input.id, tokenHash: s.hash, now: T0 + 1, policy })).ok).toBe(
        true,
      );
    } finally {
      await db.close();
    }
  });

  it('takes a table name: auto-migration and migrate(db, { table }) create that table only', async () => {
    const db = await PGlite.create();
    try {
      const T0 = Date.now();
      const s = newSession('u-table', T0);
      const store = pgliteStore({ db, table: 'app_sessions' });
      expect(
        (await store.create({ session: s.input, limit: { max: 3, onLimit: 'reject' }, now: T0, policy })).ok,
      ).toBe(true);
      const tables = async () =>
        (
          await db.query<{ t: string }>(`SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public'`)
        ).rows
          .map((r) => r.t)
          .sort();
      expect(await tables()).toEqual(['app_sessions']);
      await migrate(db, { table: 'more_sessions' });
      expect(await tables()).toEqual(['app_sessions', 'more_sessions']);
      expect(migrationSql({ table: 'more_sessions' })).toContain(
        'CREATE TABLE IF NOT EXISTS more_sessions (',
      );
    } finally {
      await db.close();
    }
  });

  it('is durable: a session survives closing and reopening the data directory', async () => {
    const dir = join(root, 'durable');
    const T0 = Date.now();
    const s = newSession('u-durable', T0, { role: 'admin' });
    const next = newToken(s.input.id);

    const first = await PGlite.create(dir);
    const before = pgliteStore({ db: first });
    await before.create({ session: s.input, limit: { max: 3, onLimit: 'reject' }, now: T0, policy });
    expect(
      await before.rotate({
        id: s.input.id,
        tokenHash: s.hash,
        newTokenHash: next.hash,
        patch: { mfa: true },
        now: T0 + 1_000,
        policy,
      }),
    ).not.toBeNull();
    await first.close();

    const second = await PGlite.create(dir);
    try {
      const after = pgliteStore({ db: second });
      const v = await after.validate({ id: s.input.id, tokenHash: next.hash, now: T0 + 2_000, policy });
      expect(v).toEqual({
        ok: true,
        session: {
          id: s.input.id,
          userId: 'u-durable',
          data: { role: 'admin', mfa: true },
          createdAt: T0,
          lastActivityAt: T0 + 2_000,
          userAgent: s.input.userAgent,
          ip: s.input.ip,
          rotatePending: false,
          boundAt: null,
        },
      });
      expect(await after.validate({ id: s.input.id, tokenHash: s.hash, now: T0 + 2_000, policy })).toEqual({
        ok: false,
        reason: 'rotated',
      });
    } finally {
      await second.close();
    }
  });
});
