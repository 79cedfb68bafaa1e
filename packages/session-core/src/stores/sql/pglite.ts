import type { PGliteInterface, Transaction } from '@electric-sql/pglite';
import { DEFAULT_TABLE, sessionTable } from './schema.js';
import {
  createSqlStore,
  migrateSql,
  type SqlExecutor,
  type SqlQueryable,
  type SqlSessionStore,
} from './sql-store.js';

export { migrationSql } from './schema.js';
export type { SqlExecutor, SqlQueryable, SqlSessionStore } from './sql-store.js';

/** What the store needs of a PGlite instance (`new PGlite(dataDir)` or `await PGlite.create(...)`). */
export type PGliteLike = Pick<PGliteInterface, 'query' | 'exec' | 'transaction'>;

export interface PgliteStoreOptions {
  /**
   * A PGlite you own: the store never opens or closes it. Open it with a data directory to keep
   * sessions across restarts; without one it lives in memory. PGlite creates only the last folder of
   * the path, so make the others first: `mkdirSync(dir, { recursive: true })`.
   */
  db: PGliteLike;
  /**
   * The sessions table: a lower-case identifier, optionally schema-qualified (the schema must exist).
   * Default `'tessera_sessions'`.
   */
  table?: string;
  /**
   * Create the table on first use, so the embedded store needs no setup step. Default `true`; set
   * `false` if you run `migrate()` (or apply `migrationSql()`) yourself.
   */
  autoMigrate?: boolean;
}

/**
 * Sessions in an embedded PostgreSQL (PGlite, Postgres compiled to WASM): the very same schema and
 * statements as `postgresStore`, with no server to run. PGlite runs one statement at a time, so it
 * suits a single process; share the data directory with nothing else.
 * @example
 * const dir = './.data/sessions';
 * mkdirSync(dir, { recursive: true }); // PGlite creates only the last folder
 * const store = pgliteStore({ db: await PGlite.create(dir) });
 */
export function pgliteStore(options: PgliteStoreOptions): SqlSessionStore {
  const table = sessionTable(options.table ?? DEFAULT_TABLE);
  const raw = pgliteExecutor(options.db);
  if (options.autoMigrate === false) return createSqlStore({ name: 'pglite', db: raw, table });

  let ready: Promise<void> | null = null;
  const ensureSchema = (): Promise<void> => {
    // Memoized; a failed attempt (e.g. the database was closed) is retried by the next call.
    ready ??= migrateSql(raw, table).catch((error: unknown) => {
      ready = null;
      throw error;
    });
    return ready;
  };
  const db: SqlExecutor = {
    query: async (sql, params) => {
      await ensureSchema();
      return raw.query(sql, params);
    },
    script: async (sql) => {
      await ensureSchema();
      return raw.script(sql);
    },
    transaction: async (fn) => {
      await ensureSchema();
      return raw.transaction(fn);
    },
  };
  return createSqlStore({ name: 'pglite', db, table, migrate: ensureSchema });
}

/** Creates the sessions table and its index if missing (idempotent); `table` as in `pgliteStore`. */
export async function migrate(db: PGliteLike, options: { table?: string } = {}): Promise<void> {
  await pgliteStore({ db, ...options, autoMigrate: false }).migrate();
}

function queryable(db: PGliteLike | Transaction): SqlQueryable {
  return {
    async query<T extends Record<string, unknown>>(sql: string, params: readonly unknown[] = []) {
      return (await db.query<T>(sql, [...params])).rows;
    },
    async script(sql) {
      await db.exec(sql);
    },
  };
}

/**
 * The SQL executor the PGlite store runs on, for your own tables in the same database (a users
 * table, say): `query` runs one statement; `transaction` runs a callback in one transaction, commits
 * when it resolves and rolls back (and rethrows) when it throws. PGlite has one connection: a
 * transaction holds it, so every other query waits until it ends, and a `query` on the executor
 * (rather than on `tx`) inside the callback would wait for ever. Errors are the driver's, as thrown.
 * The database stays yours (never closed here), and nothing here creates the sessions table: the
 * store does that.
 * @example
 * const db = pgliteExecutor(pglite);
 * await db.script('CREATE TABLE IF NOT EXISTS users (id text PRIMARY KEY, name text NOT NULL)');
 * await db.transaction(async (tx) => {
 *   await tx.query('INSERT INTO users (id, name) VALUES ($1, $2)', [id, name]);
 * });
 */
export function pgliteExecutor(db: PGliteLike): SqlExecutor {
  return {
    ...queryable(db),
    // PGlite's transaction holds its single connection exclusively: BEGIN ... COMMIT, or ROLLBACK
    // when the callback throws. Its default isolation is READ COMMITTED, like a server's.
    transaction: (fn) => db.transaction((tx) => fn(queryable(tx))),
  };
}
