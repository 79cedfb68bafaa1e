import { DEFAULT_TABLE, sessionTable } from './schema.js';
import { createSqlStore, type SqlExecutor, type SqlQueryable, type SqlSessionStore } from './sql-store.js';

export { migrationSql } from './schema.js';
export type { SqlExecutor, SqlQueryable, SqlSessionStore } from './sql-store.js';

/** What the store needs of a `pg` client: a `pg.Pool`, a `pg.PoolClient` or anything shaped alike. */
export interface PgQueryable {
  /** `command` is the statement's tag (`'COMMIT'`, `'ROLLBACK'`, ...), as `pg` reports it. */
  query(text: string, values?: unknown[]): Promise<{ rows: unknown[]; command?: string }>;
}

/** What the store needs of a `pg.Pool` (a real Pool fits; so does a wrapper that counts queries). */
export interface PgPoolLike extends PgQueryable {
  connect(): Promise<PgQueryable & { release(destroy?: boolean | Error): void }>;
}

export interface PostgresStoreOptions {
  /**
   * A `pg.Pool` you own: the store never creates or ends it. Give it a `connectionTimeoutMillis` (and
   * a `statement_timeout`) so that a dead server fails requests quickly instead of hanging them.
   * @example postgresStore({ pool: new pg.Pool({ connectionString, connectionTimeoutMillis: 2000 }) })
   */
  pool: PgPoolLike;
  /**
   * The sessions table: a lower-case identifier, optionally schema-qualified (the schema must exist).
   * Default `'tessera_sessions'`.
   * @example postgresStore({ pool, table: 'auth.sessions' })
   */
  table?: string;
}

/**
 * Sessions in a PostgreSQL table (`tessera_sessions` unless `table` says otherwise; its SQL:
 * `migrationSql()`). Validation is one `UPDATE ... RETURNING` round trip; creation is one transaction
 * serialized per user. Call `migrate()` once at boot (or apply `migrationSql({ table })` with your own
 * migration tool) and the manager's `sweep()` periodically to delete old rows.
 * @example
 * const store = postgresStore({ pool });
 * await store.migrate();
 * const sessions = createSessionManager({ store });
 * setInterval(() => sessions.sweep().catch(console.error), 10 * 60_000).unref();
 */
export function postgresStore(options: PostgresStoreOptions): SqlSessionStore {
  const table = sessionTable(options.table ?? DEFAULT_TABLE);
  return createSqlStore({ name: 'postgres', db: postgresExecutor(options.pool), table });
}

/**
 * Creates the sessions table and its index if missing (idempotent, safe under concurrent boots).
 * `pool`: a `pg.Pool` (or anything with `query` and `connect`); `table` as in `postgresStore`.
 */
export async function migrate(pool: PgPoolLike, options: { table?: string } = {}): Promise<void> {
  await postgresStore({ pool, ...options }).migrate();
}

function queryable(client: PgQueryable): SqlQueryable {
  return {
    async query<T extends Record<string, unknown>>(sql: string, params: readonly unknown[] = []) {
      // Copy: pg's typings want a mutable array.
      return (await client.query(sql, [...params])).rows as T[];
    },
    async script(sql) {
      // Without parameters pg uses the simple query protocol, which accepts several statements.
      await client.query(sql);
    },
  };
}

/**
 * The SQL executor the PostgreSQL store runs on, for your own tables in the same database (a users
 * table, say): `query` runs one statement on any pooled connection; `transaction` runs a callback in
 * one READ COMMITTED transaction on one connection, commits when it resolves and rolls back (and
 * rethrows) when it throws. A statement that failed inside it aborts it even when the callback catches
 * the error: the transaction then rejects rather than commit. A connection that can't even roll back
 * is destroyed, not returned to the pool. Errors are the driver's, as thrown: wrapping them is the
 * caller's choice. The pool stays yours (never ended here).
 * @example
 * const db = postgresExecutor(pool);
 * const [user] = await db.query<{ name: string }>('SELECT name FROM users WHERE id = $1', [id]);
 * await db.transaction(async (tx) => {
 *   await tx.query('UPDATE users SET name = $2 WHERE id = $1', [id, name]);
 *   await tx.query('INSERT INTO audit (user_id, what) VALUES ($1, $2)', [id, 'renamed']);
 * });
 */
export function postgresExecutor(pool: PgPoolLike): SqlExecutor {
  return {
    ...queryable(pool),
    async transaction(fn) {
      const client = await pool.connect();
      let broken = false;
      try {
        // Explicit: the per-user advisory lock needs a fresh snapshot per statement, which a server
        // default of REPEATABLE READ would not give.
        await client.query('BEGIN ISOLATION LEVEL READ COMMITTED');
        const result = await fn(queryable(client));
        // A statement that failed inside `fn` and was caught there leaves the transaction aborted, and
        // PostgreSQL then answers COMMIT by rolling back, without an error: say so (as PGlite does),
        // or the caller would take writes that are gone for done.
        const { command } = await client.query('COMMIT');
        if (command === 'ROLLBACK') throw new Error('the transaction was rolled back instead of committed');
        return result;
      } catch (error) {
        try {
          await client.query('ROLLBACK');
        } catch {
          broken = true; // the connection is gone or wedged: don't hand it back to the pool
        }
        throw error;
      } finally {
        client.release(broken);
      }
    },
  };
}
