/**
 * Redis (the session store) goes away and comes back: protected calls fail closed with 503 (never
 * "signed out"), login sets no cookie, /readyz says so, and the server recovers by itself.
 */
import { createTestDatabase, startRedis, type TestDatabase, type TestRedis } from '@tessera/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { PASSWORD, sleep, startApp, type TestApp, uniqueEmail } from './helpers/app.js';

let db: TestDatabase;
let redis: TestRedis;
let app: TestApp;
beforeAll(async () => {
  [db, redis] = await Promise.all([createTestDatabase(), startRedis()]);
  app = await startApp({ databaseUrl: db.url, redisUrl: redis.url });
});
afterAll(async () => {
  await app?.stop();
  await redis?.stop();
  await db?.drop();
});

async function readyz() {
  const res = await fetch(`${app.url}/readyz`);
  return {
    status: res.status,
    body: (await res.json()) as { status: string; checks: Record<string, string> },
  };
}

it('fails closed while Redis is down and recovers when it is back', async () => {
  const email = uniqueEmail();
  const c = await app.signedIn(email);
  const token = c.sessionToken!;
  await redis.kill();

  const me = await c.query('auth.me');
  expect(me.status).toBe(503);
  expect(me.error?.data.code).toBe('SERVICE_UNAVAILABLE');
  expect(me.setCookies).toEqual([]); // not treated as signed out: the cookie stays
  expect(c.sessionToken).toBe(token);

  for (const client of [app.client(), c]) {
    const login = await client.mutation('auth.login', { email, password: PASSWORD });
    expect(login.status).toBe(503);
    expect(login.setCookies.filter((s) => s.startsWith('__Host-tessera=') && !/Max-Age=0/.test(s))).toEqual(
      [],
    );
  }
  expect((await c.mutation('sessions.revokeOthers')).status).toBe(503);

  const down = await readyz();
  expect(down.status).toBe(503);
  expect(down.body.checks).toEqual({ database: 'ok', sessionStore: 'unavailable' });
  expect((await fetch(`${app.url}/healthz`)).status).toBe(200);

  await redis.start(); // an empty Redis: the old sessions are gone
  const deadline = Date.now() + 15_000;
  while ((await readyz()).status !== 200) {
    expect(Date.now()).toBeLessThan(deadline);
    await sleep(200);
  }
  const after = await c.query('auth.me');
  expect(after.status).toBe(401);
  expect(after.error?.data.reason).toBe('unknown');
  const login = await app.client().mutation('auth.login', { email, password: PASSWORD });
  expect(login.status).toBe(200);
});
