// sessions.ts: the session manager, over PostgreSQL
import { createSessionManager } from '@tessera/session-core';
import { postgresStore } from '@tessera/session-core/postgres';
import pg from 'pg';

// A dead database should fail requests quickly (503), not hang them.
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, connectionTimeoutMillis: 2_000 });
pool.on('error', (error) => console.error(`postgres: ${error.message}`)); // an idle client lost its server

const store = postgresStore({ pool }); // table 'tessera_sessions'; `table: 'auth.sessions'` to change it
await store.migrate(); // creates the table if missing; or apply migrationSql() with your migration tool

export const sessions = createSessionManager({ store, idleTimeout: '15m', absoluteTimeout: '12h' });

// SQL has no TTLs: delete dead rows now and then (correctness never depends on it).
setInterval(() => sessions.sweep().catch((error) => console.error(error)), 10 * 60_000).unref();
