/**
 * The exported SQL executors (`postgresExecutor` from /postgres, `pgliteExecutor` from /pglite): the
 * ones the stores run on, offered to apps for their own tables. The same behaviour on a real
 * PostgreSQL and an in-memory PGlite: a transaction commits when its callback resolves and rolls back
 * when it throws (rethrowing that very error), a statement that failed inside rolls it back even when
 * the callback caught it, and `query` types its rows and takes its parameters optionally. For pg only:
 * READ COMMITTED whatever the server's default, and a connection that can't roll back is destroyed.
 */
import { PGlite } from '@electric-sql/pglite';
import { createTestDatabase, type TestDatabase } from '@tessera/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgliteExecutor, pgliteStore } from '../src/stores/sql/pglite.js';
import { type PgPoolLike, type PgQueryable, postgresExecutor } from '../src/stores/sql/postgres.js';
import type { SqlExecutor } from '../src/stores/sql/sql-store.js';
import { newSession, policy } from './helpers/sql-suite.js';

interface Harness {
  db: SqlExecutor;
  teardown(): Promise<void>;
}

function executorSuite(name: string, setup: () => Promise<Harness>): void {
  describe(`${name} executor`, () => {
    let h: Harness;
    let db: SqlExecutor;
    beforeAll(async () => {
      h = await setup();
      db = h.db;
      await db.script(`
        DROP TABLE IF EXISTS accounts;
        CREATE TABLE accounts (id text PRIMARY KEY, balance int NOT NULL CHECK (balance >= 0));`);
    });
    afterAll(async () => {
      await h?.teardown();
    });

    const balances = async () =>
      (await db.query<{ id: string; balance: number }>('SELECT id, balance FROM accounts ORDER BY id')).map(
        (row) => [row.id, row.balance],
      );

    it('query: typed rows, parameters optional', async () => {
      const rows = await db.query<{ n: number; s: string }>('SELECT 2::int AS n, $1::text AS s', ['x']);
      expect(rows).toEqual([{ n: 2, s: 'x' }]);
      expect(await db.query('SELECT 1::int AS one')).toEqual([{ one: 1 }]);
      expect(await db.query('CREATE TEMP TABLE IF NOT EXISTS nothing (x int)')).toEqual([]);
    });

    it('transaction: commits when the callback resolves, and resolves with its value', async () => {
      const value = await db.transaction(async (tx) => {
        await tx.query('INSERT INTO accounts (id, balance) VALUES ($1, $2), ($3, $4)', ['a', 10, 'b', 0]);
        const [row] = await tx.query<{ total: number }>('SELECT sum(balance)::int AS total FROM accounts');
        return row?.total;
      });
      expect(value).toBe(10);
      expect(await balances()).toEqual([
        ['a', 10],
        ['b', 0],
      ]);
    });

    it('transaction: rolls back when the callback throws, and rethrows that very error', async () => {
      const refused = new Error('refused by the app');
      const outcome = db.transaction(async (tx) => {
        await tx.query('UPDATE accounts SET balance = balance - 5 WHERE id = $1', ['a']);
        await tx.query('UPDATE accounts SET balance = balance + 5 WHERE id = $1', ['b']);
        throw refused;
      });
      await expect(outcome).rejects.toBe(refused);
      expect(await balances()).toEqual([
        ['a', 10],
        ['b', 0],
      ]);
    });

    it('transaction: a failed statement rolls it back, caught in the callback or not', async () => {
      // Not caught: the driver's error comes out as it is (a CHECK violation here).
      await expect(
        db.transaction(async (tx) => {
          await tx.query('UPDATE accounts SET balance = balance + 100 WHERE id = $1', ['b']);
          await tx.query('UPDATE accounts SET balance = balance - 100 WHERE id = $1', ['a']);
        }),
      ).rejects.toMatchObject({ code: '23514' });
      // Caught: PostgreSQL answers the COMMIT of an aborted transaction by rolling back, so it rejects.
      await expect(
        db.transaction(async (tx) => {
          await tx.query('UPDATE accounts SET balance = balance + 100 WHERE id = $1', ['b']);
          await tx.query('UPDATE accounts SET balance = balance - 100 WHERE id = $1', ['a']).catch(() => {});
          return 'done';
        }),
      ).rejects.toThrow(/rolled back instead of committed/i);
      expect(await balances()).toEqual([
        ['a', 10],
        ['b', 0],
      ]);
    });

    it('transaction: READ COMMITTED', async () => {
      const level = await db.transaction(async (tx) => tx.query('SHOW transaction_isolation'));
      expect(level).toEqual([{ transaction_isolation: 'read committed' }]);
    });
  });
}

let database: TestDatabase | undefined;
afterAll(async () => {
  await database?.drop();
});

executorSuite('postgres', async () => {
  database = await createTestDatabase();
  // A server whose default is REPEATABLE READ: the executor's transactions are READ COMMITTED still.
  const pool = database.pool({ max: 4, options: '-c default_transaction_isolation=repeatable\\ read' });
  const [server] = (await pool.query('SHOW default_transaction_isolation')).rows;
  expect(server).toEqual({ default_transaction_isolation: 'repeatable read' });
  return { db: postgresExecutor(pool), teardown: async () => {} };
});

executorSuite('pglite', async () => {
  const pglite = await PGlite.create();
  return { db: pgliteExecutor(pglite), teardown: () => pglite.close() };
});

describe('postgresExecutor and its pool', () => {
  /** A pool that records each connection's statements and release; `rollbackFails` breaks ROLLBACK. */
  function fakePool(options: { rollbackFails?: boolean } = {}) {
    const statements: string[] = [];
    const releases: unknown[] = [];
    const client: PgQueryable & { release(destroy?: boolean | Error): void } = {
      async query(text) {
        statements.push(text);
        if (text === 'ROLLBACK' && options.rollbackFails) throw new Error('Connection terminated');
        if (text.startsWith('FAIL')) throw new Error('syntax error');
        return { rows: [], command: text.split(' ')[0] };
      },
      release: (destroy) => void releases.push(destroy),
    };
    const pool: PgPoolLike = { query: client.query, connect: async () => client };
    return { pool, statements, releases };
  }

  it('hands the connection back after a commit and after a rollback', async () => {
    const fake = fakePool();
    await postgresExecutor(fake.pool).transaction(async (tx) => tx.query('SELECT 1'));
    await expect(postgresExecutor(fake.pool).transaction((tx) => tx.query('FAIL'))).rejects.toThrow(
      'syntax error',
    );
    expect(fake.statements).toEqual([
      'BEGIN ISOLATION LEVEL READ COMMITTED',
      'SELECT 1',
      'COMMIT',
      'BEGIN ISOLATION LEVEL READ COMMITTED',
      'FAIL',
      'ROLLBACK',
    ]);
    expect(fake.releases).toEqual([false, false]);
  });

  it('destroys a connection that cannot even roll back, and rethrows the first error', async () => {
    const fake = fakePool({ rollbackFails: true });
    await expect(postgresExecutor(fake.pool).transaction((tx) => tx.query('FAIL'))).rejects.toThrow(
      'syntax error',
    );
    expect(fake.releases).toEqual([true]);
  });
});

describe('pgliteExecutor beside the store', () => {
  it("shares one PGlite with pgliteStore: the app's tables and the sessions table side by side", async () => {
    const pglite = await PGlite.create();
    try {
      const store = pgliteStore({ db: pglite });
      const db = pgliteExecutor(pglite);
      await db.script('CREATE TABLE users (id text PRIMARY KEY, name text NOT NULL)');
      await db.transaction((tx) => tx.query('INSERT INTO users (id, name) VALUES ($1, $2)', ['u1', 'Ada']));
      const T0 = Date.now();
      const s = newSession('u1', T0);
      expect(
        (await store.create({ session: s.input, limit: { max: 3, onLimit: 'reject' }, now: T0, policy })).ok,
      ).toBe(true);
      const rows = await db.query<{ name: string; sessions: number }>(
        `SELECT u.name, count(s.id)::int AS sessions
         FROM users u LEFT JOIN tessera_sessions s ON s.user_id = u.id GROUP BY u.name`,
      );
      expect(rows).toEqual([{ name: 'Ada', sessions: 1 }]);
    } finally {
      await pglite.close();
    }
  });
});
