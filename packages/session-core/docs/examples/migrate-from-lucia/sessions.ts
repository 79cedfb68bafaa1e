// sessions.ts: Tessera in the PostgreSQL database Lucia used (its table beside Lucia's user_session)
import { createSessionManager } from '@tessera/session-core';
import { postgresStore } from '@tessera/session-core/postgres';
import pg from 'pg';

export const pool = new pg.Pool({
  connectionString: process.env.DATABASE_URL,
  connectionTimeoutMillis: 2_000,
});
pool.on('error', (error) => console.error(`postgres: ${error.message}`));

const store = postgresStore({ pool });
await store.migrate();

export const sessions = createSessionManager({
  store,
  // Lucia had one clock: 30 days, pushed back 30 days whenever less than 15 were left, never capped.
  // Tessera has two; choose both for your risk (OWASP ASVS 5.0 V7.3), e.g. a week idle, a month at most.
  idleTimeout: '7d',
  absoluteTimeout: '30d',
  // Lucia's cookie had a Max-Age, so it outlived the browser: keep that, or users are signed out on restart.
  cookie: { persistent: true },
});

setInterval(() => sessions.sweep().catch((error) => console.error(error)), 10 * 60_000).unref();
