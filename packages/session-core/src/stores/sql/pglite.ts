import type { PGliteInterface, Transaction } from '@electric-sql/pglite';
import {
  createSqlStore,
  migrateSql,
  type SqlExecutor,
  type SqlQueryable,
  type SqlSessionStore,
} from './sql-store.js';

export type { SqlSessionStore } from './sql-store.js';

/** What the store needs of a PGlite instance (`new PGlite(dataDir)` or `await PGlite.create(...)`). */
export type PGliteLike = Pick<PGliteInterface, 'query' | 'exec' | 'transaction'>;

export interface PgliteStoreOptions {
  /**
   * A PGlite you own: the store never opens or closes it. Open it with a data directory to keep
   * sessions across restarts (`new PGlite('./.data/sessions')`); without one it lives in memory.
   */
  db: PGliteLike;
  /**
   * Create the table on first use, so the embedded store needs no setup step. Default `true`; set
   * `false` if you run `migrate()` (or the SQL file) yourself.
   */
  autoMigrate?: boolean;
}

/**
 * Sessions in an embedded PostgreSQL (PGlite, Postgres compiled to WASM): the very same schema and
 * statements as `postgresStore`, with no server to run. PGlite runs one statement at a time, so it
 * suits a single process; share the data directory with nothing else.
 * @example
 * const db = await PGlite.create('./.data/sessions');
 * const store = pgliteStore({ db });
 */
export function pgliteStore(options: PgliteStoreOptions): SqlSessionStore {
  const raw = pgliteExecutor(options.db);
  if (options.autoMigrate === false) return createSqlStore({ name: 'pglite', db: raw });

  let ready: Promise<void> | null = null;
  const ensureSchema = (): Promise<void> => {
    // Memoized; a failed attempt (e.g. the database was closed) is retried by the next call.
    ready ??= migrateSql(raw).catch((error: unknown) => {
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
  return createSqlStore({ name: 'pglite', db, migrate: ensureSchema });
}

/** Creates the sessions table and index if missing (idempotent). */
export async function migrate(db: PGliteLike): Promise<void> {
  await pgliteStore({ db, autoMigrate: false }).migrate();
}

function queryable(db: PGliteLike | Transaction): SqlQueryable {
  return {
    async query(sql, params) {
      return (await db.query<Record<string, unknown>>(sql, [...params])).rows;
    },
    async script(sql) {
      await db.exec(sql);
    },
  };
}

function pgliteExecutor(db: PGliteLike): SqlExecutor {
  return {
    ...queryable(db),
    // PGlite's transaction holds its single connection exclusively: BEGIN ... COMMIT, or ROLLBACK
    // when the callback throws. Its default isolation is READ COMMITTED, like a server's.
    transaction: (fn) => db.transaction((tx) => fn(queryable(tx))),
  };
}
