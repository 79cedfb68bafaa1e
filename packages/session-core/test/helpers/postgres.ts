import { randomBytes } from 'node:crypto';
import pg from 'pg';

/**
 * A throwaway PostgreSQL database per test file. The server is the one `DATABASE_URL` points at
 * (its database is only used to CREATE/DROP the test database), or the local one at 127.0.0.1:5432
 * as user `postgres`. The database is dropped again by `drop()`.
 */
export interface TestDatabase {
  /** Connection string of the fresh database. */
  url: string;
  /** A pool on the fresh database; ended by `drop()`. */
  pool(config?: pg.PoolConfig): pg.Pool;
  /** Ends the pools made here and drops the database. */
  drop(): Promise<void>;
}

const LOCAL = 'postgres://postgres@127.0.0.1:5432/postgres';

export async function createTestDatabase(): Promise<TestDatabase> {
  const serverUrl = process.env.DATABASE_URL ?? LOCAL;
  const admin = new pg.Client({ connectionString: serverUrl, connectionTimeoutMillis: 5_000 });
  try {
    await admin.connect();
  } catch (error) {
    await admin.end().catch(() => {});
    const where = redact(serverUrl);
    throw new Error(
      `PostgreSQL is not reachable at ${where} (${error instanceof Error ? error.message : String(error)}). ` +
        'The PostgreSQL store tests need a real server. Either start the local PostgreSQL ' +
        '(`pg_ctlcluster --skip-systemctl-redirect 15 main start`, as .ci/run does; it must trust user postgres ' +
        'on 127.0.0.1:5432), or run one with `docker compose up -d postgres` and set ' +
        'DATABASE_URL=postgres://tessera:tessera@127.0.0.1:5432/tessera (any server works whose user may ' +
        'CREATE DATABASE: each test file creates its own database there and drops it afterwards).',
      { cause: error },
    );
  }

  const name = `tessera_test_${randomBytes(6).toString('hex')}`;
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const pools: pg.Pool[] = [];

  return {
    url: url.toString(),
    pool(config) {
      const pool = new pg.Pool({ connectionString: url.toString(), max: 10, ...config });
      // An idle client whose connection dies (e.g. the server restarts) must not crash the test run.
      pool.on('error', () => {});
      pools.push(pool);
      return pool;
    },
    async drop() {
      await Promise.all(pools.map((p) => p.end().catch(() => {})));
      const client = new pg.Client({ connectionString: serverUrl, connectionTimeoutMillis: 5_000 });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

function redact(connectionString: string): string {
  try {
    const url = new URL(connectionString);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return '(unparseable DATABASE_URL)';
  }
}
