/**
 * A slow Redis (a delaying TCP proxy between the server process and Redis, and `DEBUG SLEEP`, which
 * blocks Redis itself): the server waits a bounded time (1 s per command, see src/redis.ts; with
 * auto-pipelining a request can wait for an earlier pipeline's timeout first, so up to ~2 s), then
 * answers 503. It never assumes a session valid (a revoked one stays refused, a live one is not
 * served blind) and never hands out a session. Slow-but-within-bounds Redis just makes requests slower.
 */
import { createTestDatabase, startRedis, type TestDatabase, type TestRedis } from '@tessera/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueEmail } from '../helpers/app.js';
import { type ChildServer, startChildServer, userAdmin } from '../helpers/child-server.js';
import { PASSWORD } from '../helpers/defaults.js';
import type { CallResult, HttpClient } from '../helpers/http.js';
import { sleep, waitFor } from '../helpers/load.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

let db: TestDatabase;
let redis: TestRedis;
let proxy: TcpProxy;
let server: ChildServer;
let admin: ReturnType<typeof userAdmin>;
let direct: Redis;

beforeAll(async () => {
  [db, redis] = await Promise.all([createTestDatabase(), startRedis({ enableDebug: true })]);
  proxy = await startTcpProxy({ port: redis.port });
  server = await startChildServer({
    env: { DATABASE_URL: db.url, REDIS_URL: `redis://127.0.0.1:${proxy.port}` },
  });
  admin = userAdmin(db.url);
  direct = new Redis(redis.url);
});
afterAll(async () => {
  direct?.disconnect();
  await server?.kill();
  await admin?.close();
  await proxy?.close();
  await redis?.stop();
  await db?.drop();
});

async function signedIn() {
  const email = uniqueEmail('slow');
  await admin.create(email);
  const c = server.client();
  expect((await c.mutation('auth.login', { email, password: PASSWORD })).status).toBe(200);
  return { c, email };
}

async function timed(call: () => Promise<CallResult>) {
  const start = performance.now();
  const r = await call();
  return { r, ms: performance.now() - start };
}

/** Waits until a signed-in client is served again (the slow replies have drained). */
const served = (c: HttpClient) =>
  waitFor(async () => (await c.query('sessions.list')).status === 200, 10_000, 100);

describe('Redis slow', () => {
  it('200 ms per round trip: requests are slower, and still correct', async () => {
    const { c } = await signedIn();
    proxy.delay(200);
    try {
      for (const call of [
        () => c.query('auth.me'),
        () => c.query('sessions.list'),
        () => c.mutation('auth.ping'),
      ]) {
        const { r, ms } = await timed(call);
        expect(r.status).toBe(200);
        expect(ms).toBeLessThan(2_000);
      }
    } finally {
      proxy.delay(0);
    }
  });

  it('3 s per round trip: every request gets a 503 within a bounded time; nothing is assumed valid', async () => {
    const live = await signedIn();
    const revoked = await signedIn();
    const other = server.client();
    await other.mutation('auth.login', { email: revoked.email, password: PASSWORD });
    const revoke = await other.mutation('sessions.revoke', {
      sessionId: revoked.c.sessionToken!.slice(0, 26),
    });
    expect(revoke.status).toBe(200);
    proxy.delay(3_000);
    const results: { label: string; status: number; ms: number; data: boolean; cookie: boolean }[] = [];
    try {
      const calls: [string, () => Promise<CallResult>][] = [
        ['live: auth.me', () => live.c.query('auth.me')],
        ['live: sessions.list', () => live.c.query('sessions.list')],
        ['live: auth.ping', () => live.c.mutation('auth.ping')],
        ['revoked: sessions.list', () => revoked.c.query('sessions.list')],
        ['login', () => server.client().mutation('auth.login', { email: live.email, password: PASSWORD })],
      ];
      await Promise.all(
        calls.map(async ([label, call]) => {
          const { r, ms } = await timed(call);
          results.push({
            label,
            status: r.status,
            ms,
            data: r.data !== undefined,
            cookie: r.setCookies.some((h) => /^__Host-tessera=[^;]/.test(h)),
          });
        }),
      );
    } finally {
      proxy.delay(0);
    }
    console.log(
      `Redis 3 s slow: ${results.map((r) => `${r.label} ${r.status} in ${r.ms.toFixed(0)} ms`).join('; ')}`,
    );
    for (const r of results) {
      expect(r.status, r.label).toBe(503);
      expect(r.data, r.label).toBe(false);
      expect(r.cookie, r.label).toBe(false);
      // At most two command timeouts (1 s each): with auto-pipelining a command issued while an
      // earlier pipeline of the client is still waiting goes out only when that one settles.
      expect(r.ms, r.label).toBeLessThan(2 * 1_000 + 800);
    }
    const recovery = await served(live.c);
    console.log(`served again ${recovery.toFixed(0)} ms after the delay was removed`);
    expect((await revoked.c.query('sessions.list')).status).toBe(401);
  });

  it('DEBUG SLEEP (Redis itself blocked for 2.5 s): 503 within bounds, then served again', async () => {
    const { c } = await signedIn();
    const blocked = direct.call('DEBUG', 'SLEEP', '2.5');
    await sleep(50);
    const started = performance.now();
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        timed(() => (i % 2 ? c.query('auth.me') : c.mutation('auth.ping'))),
      ),
    );
    await blocked;
    console.log(
      `DEBUG SLEEP 2.5: ${results.map((x) => `${x.r.status} in ${x.ms.toFixed(0)} ms`).join(', ')}`,
    );
    for (const { r, ms } of results) {
      expect(r.status).toBe(503);
      expect(ms).toBeLessThan(2 * 1_000 + 800); // as above: at most two command timeouts
    }
    expect(performance.now() - started).toBeLessThan(3_500);
    await served(c);
    expect(server.alive()).toBe(true);
  });
});
