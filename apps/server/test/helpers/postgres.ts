import { randomBytes } from 'node:crypto';
import pg from 'pg';

/**
 * A fresh PostgreSQL database for one test file, on the server DATABASE_URL points at or the local
 * one (127.0.0.1:5432, user postgres). Dropped by `drop()`.
 */
export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

const LOCAL = 'postgres://postgres@127.0.0.1:5432/postgres';

export async function createTestDatabase(): Promise<TestDatabase> {
  const serverUrl = process.env.DATABASE_URL || LOCAL;
  const admin = new pg.Client({ connectionString: serverUrl, connectionTimeoutMillis: 5_000 });
  try {
    await admin.connect();
  } catch (error) {
    await admin.end().catch(() => {});
    throw new Error(
      `PostgreSQL is not reachable at ${serverUrl.replace(/:[^:@/]+@/, ':***@')} (${(error as Error).message}). ` +
        'These tests need a real server: start the local PostgreSQL (e.g. `pg_ctlcluster 15 main start`) ' +
        'or set DATABASE_URL to a server where the user may CREATE DATABASE.',
      { cause: error },
    );
  }
  const name = `tessera_server_test_${randomBytes(6).toString('hex')}`;
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: serverUrl, connectionTimeoutMillis: 5_000 });
      await client.connect();
      try {
        // A pool's end() resolves before its backends have gone; FORCE-killing a backend whose client
        // is still closing makes that client emit an unhandled 'error'. Give them a moment first.
        for (let i = 0; i < 50; i++) {
          const left = await client.query('SELECT 1 FROM pg_stat_activity WHERE datname = $1', [name]);
          if (left.rows.length === 0) break;
          await new Promise((r) => setTimeout(r, 50));
        }
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}
