/**
 * DATABASE_POOL_SIZE bounds the PostgreSQL connections one instance opens (docs/SCALING.md: N instances
 * open up to N times this many, which must stay under the server's max_connections).
 */
import { createTestDatabase, type TestDatabase } from '@tessera/testkit';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startApp, type TestApp, uniqueEmail } from './helpers/app.js';

let db: TestDatabase;
let app: TestApp;
beforeAll(async () => {
  db = await createTestDatabase();
  app = await startApp({ databaseUrl: db.url, env: { DATABASE_POOL_SIZE: '2' } });
});
afterAll(async () => {
  await app?.stop();
  await db?.drop();
});

it('DATABASE_POOL_SIZE=2: 30 parallel sign-ins and session lists never open a third connection', async () => {
  const name = new URL(db.url).pathname.slice(1);
  const watcher = new pg.Client({ connectionString: db.url });
  await watcher.connect();
  let peak = 0;
  let watching = true;
  const watch = (async () => {
    while (watching) {
      const r = await watcher.query(
        'SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
        [name],
      );
      peak = Math.max(peak, r.rows[0].n);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  })();
  try {
    const clients = await Promise.all(Array.from({ length: 30 }, () => app.signedIn(uniqueEmail())));
    const lists = await Promise.all(clients.map((c) => c.query('sessions.list')));
    expect(lists.every((r) => r.status === 200)).toBe(true);
  } finally {
    watching = false;
    await watch;
    await watcher.end();
  }
  expect(peak).toBeGreaterThanOrEqual(1);
  expect(peak).toBeLessThanOrEqual(2);
});
