/**
 * The users database seen by the rest of the server: PostgreSQL through a `pg.Pool`, or the embedded
 * PGlite. Both speak the same SQL with `$1` parameters; this seam hides how each runs a statement and
 * a transaction, and turns "the database is unreachable" into one error type (a 503, never a 500).
 */
import type { PGlite, Transaction } from '@electric-sql/pglite';
import type pg from 'pg';
import { UnavailableError } from '../errors.js';

export type Row = Record<string, unknown>;

export interface Queryable {
  query<T extends Row = Row>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  /** Runs a script of several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
}

export interface Database extends Queryable {
  readonly kind: 'postgres' | 'pglite';
  /** READ COMMITTED transaction on one connection: commit when `fn` resolves, roll back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
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

export function postgresDatabase(pool: pg.Pool): Database {
  const wrap = (client: pg.Pool | pg.PoolClient): Queryable => ({
    async query<T extends Row>(sql: string, params: readonly unknown[] = []) {
      try {
        return (await client.query(sql, [...params])).rows as T[];
      } catch (error) {
        throw classify(error, 'postgres');
      }
    },
    async exec(sql) {
      try {
        await client.query(sql);
      } catch (error) {
        throw classify(error, 'postgres');
      }
    },
  });
  const base = wrap(pool);
  return {
    kind: 'postgres',
    ...base,
    async transaction(fn) {
      let client: pg.PoolClient;
      try {
        client = await pool.connect();
      } catch (error) {
        throw classify(error, 'postgres');
      }
      let broken = false;
      try {
        await client.query('BEGIN ISOLATION LEVEL READ COMMITTED');
        const result = await fn(wrap(client));
        await client.query('COMMIT');
        return result;
      } catch (error) {
        try {
          await client.query('ROLLBACK');
        } catch {
          broken = true;
        }
        throw classify(error, 'postgres');
      } finally {
        client.release(broken);
      }
    },
    async ping() {
      await base.query('SELECT 1');
    },
    async close() {
      await pool.end();
    },
  };
}

export function pgliteDatabase(db: PGlite): Database {
  const wrap = (q: PGlite | Transaction): Queryable => ({
    async query<T extends Row>(sql: string, params: readonly unknown[] = []) {
      if (db.closed) throw new DatabaseUnavailableError('pglite database is closed');
      return (await q.query<T>(sql, [...params])).rows;
    },
    async exec(sql) {
      if (db.closed) throw new DatabaseUnavailableError('pglite database is closed');
      await q.exec(sql);
    },
  });
  const base = wrap(db);
  return {
    kind: 'pglite',
    ...base,
    transaction: (fn) => db.transaction((tx) => fn(wrap(tx))),
    async ping() {
      await base.query('SELECT 1');
    },
    async close() {
      if (!db.closed) await db.close();
    },
  };
}
