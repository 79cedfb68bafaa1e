/**
 * The users database seen by the rest of the server: PostgreSQL through a `pg.Pool`, or the embedded
 * PGlite. Statements, scripts and transactions run on session-core's SQL executor (the one its stores
 * use: `postgresExecutor`, `pgliteExecutor`); this seam adds what only the server needs: one error type
 * for "the database is unreachable" (a 503, never a 500), `ping` for /readyz and `close`.
 */
import type { PGlite } from '@electric-sql/pglite';
import { pgliteExecutor } from '@tessera/session-core/pglite';
import { postgresExecutor, type SqlExecutor, type SqlQueryable } from '@tessera/session-core/postgres';
import type pg from 'pg';
import { UnavailableError } from './unavailable.js';

export type Row = Record<string, unknown>;
export type Queryable = SqlQueryable;

export interface Database extends SqlExecutor {
  readonly kind: 'postgres' | 'pglite';
  /** Throws when the database can't answer a trivial query. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** The database could not answer (connection refused, timed out, shut down). Maps to HTTP 503. */
export class DatabaseUnavailableError extends UnavailableError {
  constructor(message: string, cause?: unknown) {
    super(message, cause);
    this.name = 'DatabaseUnavailableError';
  }
}

/** SQLSTATE classes that mean "not available right now" rather than "your SQL is wrong". */
const UNAVAILABLE_SQLSTATE = /^(08|53|57P0[1-4]|58)/;

function classify(error: unknown, kind: string): unknown {
  if (error instanceof DatabaseUnavailableError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  const sqlState = typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : null;
  if (sqlState && !UNAVAILABLE_SQLSTATE.test(sqlState)) return error;
  if (sqlState || /ECONNREFUSED|ECONNRESET|ETIMEDOUT|timeout|terminat|closed|Connection/i.test(message)) {
    return new DatabaseUnavailableError(`${kind} database unavailable: ${message}`, error);
  }
  return error;
}

/** `pg` returns int8 as strings and PGlite as numbers or bigints: callers want numbers (ms). */
export function toNumber(value: unknown): number {
  return typeof value === 'number' ? value : Number(value);
}

/** The executor with every failure classified; `isClosed` short-cuts calls to a closed database. */
function database(
  kind: Database['kind'],
  executor: SqlExecutor,
  end: () => Promise<void>,
  isClosed: () => boolean = () => false,
): Database {
  const guard = async <T>(run: () => Promise<T>): Promise<T> => {
    if (isClosed()) throw new DatabaseUnavailableError(`${kind} database is closed`);
    try {
      return await run();
    } catch (error) {
      throw classify(error, kind);
    }
  };
  return {
    kind,
    query: (sql, params) => guard(() => executor.query(sql, params)),
    script: (sql) => guard(() => executor.script(sql)),
    transaction: (fn) => guard(() => executor.transaction(fn)),
    async ping() {
      await guard(() => executor.query('SELECT 1'));
    },
    close: end,
  };
}

export const postgresDatabase = (pool: pg.Pool): Database =>
  database('postgres', postgresExecutor(pool), () => pool.end());

export const pgliteDatabase = (db: PGlite): Database =>
  database(
    'pglite',
    pgliteExecutor(db),
    async () => {
      if (!db.closed) await db.close();
    },
    () => db.closed,
  );
