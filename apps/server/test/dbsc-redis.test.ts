import { DbscBrowser } from '@tessera/session-core/testing';
import { createTestDatabase, startRedis, type TestDatabase, type TestRedis } from '@tessera/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD, startApp, type TestApp, uniqueEmail } from './helpers/app.js';
import { DBSC_ORIGIN, dbscSuite } from './helpers/dbsc-suite.js';

let db: Promise<TestDatabase> | null = null;
let redis: Promise<TestRedis> | null = null;

// Sessions in a private redis-server, users in a fresh PostgreSQL database.
dbscSuite('Redis', {
  async options() {
    db ??= createTestDatabase();
    redis ??= startRedis();
    return { databaseUrl: (await db).url, redisUrl: (await redis).url };
  },
  async cleanup() {
    await (await redis)?.stop();
    await (await db)?.drop();
  },
});

describe('Redis: the DBSC endpoints while the session store is down', () => {
  let database: TestDatabase;
  let store: TestRedis;
  let app: TestApp;
  beforeAll(async () => {
    [database, store] = await Promise.all([createTestDatabase(), startRedis()]);
    app = await startApp({
      databaseUrl: database.url,
      redisUrl: store.url,
      env: { APP_ORIGIN: DBSC_ORIGIN, DBSC: 'on' },
    });
  });
  afterAll(async () => {
    await app?.stop();
    await store?.stop();
    await database?.drop();
  });

  it('registration and refresh answer 503 with Retry-After (transient to the browser), never continue:false', async () => {
    const email = uniqueEmail('outage');
    await app.createUser(email);
    const browser = (dbsc: boolean) =>
      new DbscBrowser({
        fetch: (url, init) => fetch(url, init),
        origin: app.url,
        headers: { 'sec-fetch-site': 'same-origin' },
        dbsc,
      });
    const signIn = (b: DbscBrowser) =>
      b.request('/trpc/auth.login', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email, password: PASSWORD }),
      });
    const bound = browser(true);
    expect((await signIn(bound)).status).toBe(200);
    const [id] = [...bound.sessions.keys()];
    expect(id).toBeDefined();
    // A second browser keeps its offer for later.
    const late = browser(false);
    const offer = (await signIn(late)).headers.get('secure-session-registration');
    expect(offer).not.toBeNull();

    await store.kill();
    const refresh = await bound.sendProof(id!, null);
    expect(refresh.status).toBe(503);
    expect(refresh.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);
    expect(refresh.headers.get('cache-control')).toBe('no-store');
    expect(refresh.headers.getSetCookie()).toEqual([]);
    expect(await refresh.json()).toEqual({ error: 'unavailable' });
    expect((await late.register(offer!))?.status).toBe(503);
    expect(late.cookie('__Host-tessera')).not.toBeNull();
  });
});
