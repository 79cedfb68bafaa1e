import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { sleep } from './wait.js';

/**
 * A throwaway PostgreSQL database per test file, on the server DATABASE_URL points at (its database
 * is only used to CREATE/DROP the test database) or the local one at 127.0.0.1:5432 as user
 * `postgres`. `drop()` removes it again.
 */
export interface TestDatabase {
  /** Connection string of the fresh database. */
  url: string;
  /** A pool on the fresh database; ended by `drop()`. */
  pool(config?: pg.PoolConfig): pg.Pool;
  /** Ends the pools made by `pool()` and drops the database (terminating any other connection). */
  drop(): Promise<void>;
}

const LOCAL = 'postgres://postgres@127.0.0.1:5432/postgres';
/** Per attempt; a loaded machine (two cores, several test files booting services) can be slow. */
const CONNECT_TIMEOUT_MS = 5_000;
/** All attempts together, before giving up with instructions. */
const CONNECT_BUDGET_MS = 20_000;

export async function createTestDatabase(): Promise<TestDatabase> {
  const serverUrl = process.env.DATABASE_URL || LOCAL;
  const admin = await connect(serverUrl);
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
      const client = await connect(serverUrl);
      try {
        // A pool's end() resolves before its backends have gone; FORCE-killing a backend whose client
        // is still closing makes that client emit an unhandled 'error'. Give them a moment first.
        for (let i = 0; i < 50; i++) {
          const left = await client.query('SELECT 1 FROM pg_stat_activity WHERE datname = $1', [name]);
          if (left.rows.length === 0) break;
          await sleep(50);
        }
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

/**
 * Connects, retrying what a busy or still-starting server looks like (timeouts, refused or reset
 * connections, "starting up", "too many clients") for up to CONNECT_BUDGET_MS; anything else (a bad
 * password, an unknown host) fails at once. Either way the error says how to get a server.
 */
async function connect(serverUrl: string): Promise<pg.Client> {
  const deadline = Date.now() + CONNECT_BUDGET_MS;
  for (let attempt = 1; ; attempt++) {
    const client = new pg.Client({
      connectionString: serverUrl,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    });
    try {
      await client.connect();
      return client;
    } catch (error) {
      await client.end().catch(() => {});
      if (!isTransient(error) || Date.now() + 500 >= deadline) throw unreachable(serverUrl, error, attempt);
      await sleep(500);
    }
  }
}

function isTransient(error: unknown): boolean {
  const { code, message } = error as { code?: unknown; message?: unknown };
  return (
    ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', '57P03', '53300'].includes(String(code)) ||
    /timeout|terminated/i.test(String(message))
  );
}

function unreachable(serverUrl: string, error: unknown, attempts: number): Error {
  const why = error instanceof Error ? error.message : String(error);
  return new Error(
    `PostgreSQL is not reachable at ${redact(serverUrl)} (${why}; ${attempts} attempt(s)). ` +
      'These tests need a real server. Either start the local PostgreSQL ' +
      '(`pg_ctlcluster --skip-systemctl-redirect 15 main start`, as .ci/run does; it must trust user postgres ' +
      'on 127.0.0.1:5432), or run one with `docker compose up -d postgres` and set ' +
      'DATABASE_URL=postgres://tessera:tessera@127.0.0.1:5432/tessera (any server works whose user may ' +
      'CREATE DATABASE: each test file creates its own database there and drops it afterwards).',
    { cause: error },
  );
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
