import { DEFAULT_TABLE, sessionTable } from './schema.js';
import { createSqlStore, type SqlExecutor, type SqlQueryable, type SqlSessionStore } from './sql-store.js';

export { migrationSql } from './schema.js';
export type { SqlSessionStore } from './sql-store.js';

/** What the store needs of a `pg` client: a `pg.Pool`, a `pg.PoolClient` or anything shaped alike. */
export interface PgQueryable {
  query(text: string, values?: unknown[]): Promise<{ rows: unknown[] }>;
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
  return createSqlStore({ name: 'postgres', db: pgExecutor(options.pool), table });
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
    async query(sql, params) {
      // Copy: pg's typings want a mutable array.
      return (await client.query(sql, [...params])).rows as Record<string, unknown>[];
    },
    async script(sql) {
      // Without parameters pg uses the simple query protocol, which accepts several statements.
      await client.query(sql);
    },
  };
}

function pgExecutor(pool: PgPoolLike): SqlExecutor {
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
        await client.query('COMMIT');
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
