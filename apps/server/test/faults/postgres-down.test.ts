/**
 * PostgreSQL (the users database) goes down: a PRIVATE cluster (initdb + pg_ctl on a free port, see
 * @tessera/testkit; the shared server on 5432 is never touched) is killed with an
 * immediate shutdown while the server process runs, sessions in a private Redis:
 *  - sign-in and every procedure that needs the user record answer 503 quickly, set no session and
 *    leak nothing; /readyz names the database;
 *  - sessions keep validating from Redis: ping, auth.me, the session list, revoking a session and
 *    logout work;
 *  - when PostgreSQL is back, the server recovers by itself.
 */
import { type PrivatePostgres, startPrivatePostgres, startRedis, type TestRedis } from '@tessera/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueEmail } from '../helpers/app.js';
import { type ChildServer, startChildServer, userAdmin } from '../helpers/child-server.js';
import { PASSWORD } from '../helpers/defaults.js';
import type { CallResult } from '../helpers/http.js';
import { waitFor } from '../helpers/load.js';

let pg: PrivatePostgres;
let redis: TestRedis;
let server: ChildServer;
let admin: ReturnType<typeof userAdmin>;

beforeAll(async () => {
  [pg, redis] = await Promise.all([startPrivatePostgres(), startRedis()]);
  server = await startChildServer({ env: { DATABASE_URL: pg.url, REDIS_URL: redis.url } });
  admin = userAdmin(pg.url);
}, 60_000);
afterAll(async () => {
  await server?.kill();
  await admin?.close();
  await redis?.stop();
  await pg?.stop();
});

async function readyz() {
  const res = await fetch(`${server.url}/readyz`);
  return { status: res.status, body: (await res.json()) as { checks: Record<string, string> } };
}

describe('PostgreSQL down', () => {
  it('user procedures fail cleanly with 503; sessions in Redis keep validating; then it recovers', async () => {
    const email = uniqueEmail('pgdown');
    const boss = uniqueEmail('boss');
    await admin.create(email);
    await admin.create(boss, { role: 'admin' });
    const signIn = async (who: string) => {
      const c = server.client();
      expect((await c.mutation('auth.login', { email: who, password: PASSWORD })).status).toBe(200);
      return c;
    };
    const [c, second, third, bossClient] = [
      await signIn(email),
      await signIn(email),
      await signIn(email),
      await signIn(boss),
    ];
    await pg.kill();

    const timed = async (label: string, call: () => Promise<CallResult>) => {
      const start = performance.now();
      const r = await call();
      return { label, r, ms: performance.now() - start };
    };
    const needsUsers: [string, () => Promise<CallResult>][] = [
      ['auth.login', () => server.client().mutation('auth.login', { email, password: PASSWORD })],
      [
        'auth.login (unknown email)',
        () => server.client().mutation('auth.login', { email: 'x@y.z', password: PASSWORD }),
      ],
      ['auth.reauthenticate', () => c.mutation('auth.reauthenticate', { password: PASSWORD })],
      [
        'auth.changePassword',
        () =>
          c.mutation('auth.changePassword', {
            currentPassword: PASSWORD,
            newPassword: 'another passphrase 9',
          }),
      ],
      ['admin.listUsers', () => bossClient.query('admin.listUsers')],
      ['admin.setRole', () => bossClient.mutation('admin.setRole', { userId: 'nobody', role: 'user' })],
    ];
    const failures = [];
    for (const [label, call] of needsUsers) failures.push(await timed(label, call));
    const sessionOnly = [
      await timed('auth.ping', () => c.mutation('auth.ping')),
      // auth.me answers from the session (email, role and MFA state ride in it).
      await timed('auth.me', () => c.query('auth.me')),
      await timed('sessions.list', () => c.query('sessions.list')),
      await timed('sessions.revoke', () =>
        c.mutation('sessions.revoke', { sessionId: second.sessionToken!.slice(0, 26) }),
      ),
      await timed('auth.logout', () => third.mutation('auth.logout')),
    ];
    const ready = await readyz();

    console.log(
      `PostgreSQL down: ${[...failures, ...sessionOnly].map((x) => `${x.label} ${x.r.status} in ${x.ms.toFixed(0)} ms`).join('; ')}`,
    );
    for (const { label, r, ms } of failures) {
      expect(r.status, label).toBe(503);
      expect(r.error?.data.code, label).toBe('SERVICE_UNAVAILABLE');
      expect(r.data, label).toBeUndefined();
      expect(
        r.setCookies.filter((h) => /^__Host-tessera=[^;]/.test(h)),
        label,
      ).toEqual([]);
      expect(JSON.stringify(r.error), label).not.toMatch(/ECONNREFUSED|postgres|stack/i);
      expect(ms, label).toBeLessThan(5_000);
    }
    for (const { label, r } of sessionOnly) expect(r.status, label).toBe(200);
    expect((await second.query('sessions.list')).error?.data.reason).toBe('revoked');
    expect(ready.status).toBe(503);
    expect(ready.body.checks).toEqual({ database: 'unavailable', sessionStore: 'ok' });
    expect(server.alive()).toBe(true);

    await pg.start();
    const recovered = await waitFor(
      async () => (await c.mutation('auth.reauthenticate', { password: PASSWORD })).status === 200,
      15_000,
      100,
    );
    console.log(`PostgreSQL back: auth.reauthenticate served again after ${recovered.toFixed(0)} ms`);
    expect((await server.client().mutation('auth.login', { email, password: PASSWORD })).status).toBe(200);
    expect((await readyz()).status).toBe(200);
  }, 60_000);
});
