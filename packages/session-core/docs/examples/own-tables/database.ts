// database.ts: one pool for the sessions and for your own tables
import { createSessionManager } from '@tessera/session-core';
import { postgresExecutor, postgresStore } from '@tessera/session-core/postgres';
import pg from 'pg';
import { usersTable } from './users.js';

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, connectionTimeoutMillis: 2_000 });

const store = postgresStore({ pool });
await store.migrate();
export const sessions = createSessionManager({ store });

export const users = usersTable(postgresExecutor(pool)); // PGlite: usersTable(pgliteExecutor(db))
await users.migrate();
