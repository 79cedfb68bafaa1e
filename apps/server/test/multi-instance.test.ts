/**
 * Two server instances over one store: what one instance does (logout, revoke, role change, an MFA
 * challenge, a session-limit ticket, a device binding and its refresh) holds on the other at its very
 * next request.
 */
import { DbscBrowser } from '@tessera/session-core/testing';
import { createTestDatabase, startRedis, type TestDatabase, type TestRedis } from '@tessera/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { totpCode } from '../src/auth/totp.js';
import { PASSWORD, startApp, type TestApp, uniqueEmail } from './helpers/app.js';
import { DBSC_ORIGIN } from './helpers/dbsc-suite.js';
import type { HttpClient } from './helpers/http.js';
import { subscribeSessionEnded } from './helpers/sse.js';

/** The same cookies, presented to the other instance. */
const on = (app: TestApp, c: HttpClient) => {
  const other = app.client();
  for (const [k, v] of c.jar) other.jar.set(k, v);
  return other;
};

describe('two instances sharing Redis (sessions) and PostgreSQL (users)', () => {
  let db: TestDatabase;
  let redis: TestRedis;
  let a: TestApp;
  let b: TestApp;
  beforeAll(async () => {
    [db, redis] = await Promise.all([createTestDatabase(), startRedis()]);
    const options = { databaseUrl: db.url, redisUrl: redis.url };
    [a, b] = await Promise.all([startApp(options), startApp(options)]);
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await redis?.stop();
    await db?.drop();
  });

  it('a session made on A works on B; logout on A is effective on B at once', async () => {
    const onA = await a.signedIn(uniqueEmail());
    const onB = on(b, onA);
    expect((await onB.query('auth.me')).status).toBe(200);
    expect((await onA.mutation('auth.logout')).status).toBe(200);
    const r = await onB.query('auth.me');
    expect(r.status).toBe(401);
    expect(r.error?.data.reason).toBe('logged_out');
  });

  it('a revoke on A is effective on B at once', async () => {
    const email = uniqueEmail();
    const laptop = await a.signedIn(email);
    const phone = b.client();
    await phone.mutation('auth.login', { email, password: PASSWORD });
    expect((await phone.query('auth.me')).status).toBe(200);
    const r = await laptop.mutation('sessions.revoke', { sessionId: phone.sessionToken!.slice(0, 26) });
    expect(r.status).toBe(200);
    expect((await phone.query('auth.me')).error?.data.reason).toBe('revoked');
  });

  it('a role change on A rotates and applies on B', async () => {
    const admin = await a.signedIn(uniqueEmail('admin'), { role: 'admin' });
    const user = b.client();
    const email = uniqueEmail();
    await b.createUser(email);
    await user.mutation('auth.login', { email, password: PASSWORD });
    const id = (await user.query('auth.me')).data.user.id;
    const before = user.sessionToken!;
    await admin.mutation('admin.setRole', { userId: id, role: 'admin' });
    expect((await user.query('admin.listUsers')).status).toBe(200);
    expect(user.sessionToken).not.toBe(before);
  });

  it('an MFA challenge started on A can be finished on B', async () => {
    const email = uniqueEmail();
    const c = await a.signedIn(email);
    const { secret } = (await c.mutation('mfa.beginEnrollment')).data;
    await c.mutation('mfa.confirmEnrollment', { code: totpCode(secret, Date.now() - 30_000) });
    const login = a.client();
    expect((await login.mutation('auth.login', { email, password: PASSWORD })).data.status).toBe(
      'mfa_required',
    );
    const r = await on(b, login).mutation('auth.verifyMfa', { code: totpCode(secret) });
    expect(r.status).toBe(200);
    expect(r.data.status).toBe('signed_in');
  });

  it('events.onSessionEnded on B hears a revoke made on A (Redis pub/sub)', async () => {
    const email = uniqueEmail();
    const watcher = await b.signedIn(email);
    const stream = await subscribeSessionEnded(watcher);
    expect(stream.contentType).toContain('text/event-stream');
    const other = await a.client();
    await other.mutation('auth.login', { email, password: PASSWORD });
    await other.mutation('sessions.revoke', { sessionId: watcher.sessionToken!.slice(0, 26) });
    const event = await stream.next();
    stream.close();
    expect(event).toMatchObject({ sessionId: watcher.sessionToken!.slice(0, 26), reason: 'revoked' });
  });

  it('a device-bound session (DBSC) registered on A refreshes on B and works on both; its session cookie alone on neither', async () => {
    // Two more instances with device binding on (https APP_ORIGIN), on one test clock: bound cookies
    // expire in test time.
    let skipped = 0;
    const clock = () => Date.now() + skipped;
    const options = {
      databaseUrl: db.url,
      redisUrl: redis.url,
      env: { APP_ORIGIN: DBSC_ORIGIN, DBSC: 'on' },
      compose: { clock },
    };
    const [boundA, boundB] = await Promise.all([startApp(options), startApp(options)]);
    try {
      const browser = new DbscBrowser({
        fetch: (url, init) => fetch(url, init),
        origin: boundA.url,
        clock,
        headers: { 'sec-fetch-site': 'same-origin' },
      });
      const me = (app: TestApp, b: DbscBrowser, refresh = true) => {
        b.options.origin = app.url;
        return b.request('/trpc/auth.me', {}, { refresh });
      };
      const email = uniqueEmail('dbsc');
      await boundA.createUser(email);
      const login = await browser.request('/trpc/auth.login', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email, password: PASSWORD }),
      });
      expect(login.status).toBe(200);
      expect(browser.events.map((e) => e.type)).toEqual(['registered']); // on A

      // Past the bound cookie's life (10 min + 30 s): the refresh before the request goes to B.
      skipped += 10 * 60_000 + 31_000;
      expect((await me(boundB, browser)).status).toBe(200);
      expect(browser.events.map((e) => e.type)).toEqual(['registered', 'challenged', 'refreshed']);
      for (const app of [boundA, boundB]) expect((await me(app, browser, false)).status).toBe(200);
      // The next refresh, on A, signs the challenge B handed out: single-phase.
      skipped += 10 * 60_000 + 31_000;
      expect((await me(boundA, browser)).status).toBe(200);
      expect(browser.events.map((e) => e.type)).toEqual([
        'registered',
        'challenged',
        'refreshed',
        'refreshed',
      ]);
      expect((await me(boundB, browser, false)).status).toBe(200);

      // Long past the registration grace, the session cookie alone is refused everywhere.
      const thief = browser.steal();
      thief.cookies.delete('__Host-tessera-bound');
      for (const app of [boundA, boundB]) {
        const r = await me(app, thief);
        expect(r.status).toBe(401);
        expect(((await r.json()) as { error: { data: { reason: string } } }).error.data.reason).toBe(
          'device_unbound',
        );
      }
    } finally {
      await Promise.all([boundA.stop(), boundB.stop()]);
    }
  });

  it('events.onSessionEnded looks the session up as soon as its pub/sub connection is back', async () => {
    const watcher = await b.signedIn(uniqueEmail());
    const stream = await subscribeSessionEnded(watcher);
    const id = watcher.sessionToken!.slice(0, 26);
    const raw = new Redis(redis.url);
    try {
      // An end no event announced (the key deleted by hand), then every subscriber dropped: what was
      // published meanwhile is lost, so the stream must look the session up once it is reconnected,
      // not at its next deadline (30 min) or periodic check (10 min).
      expect(await raw.del(`tessera:s:{${id.slice(0, 4)}}${id.slice(4)}`)).toBe(1);
      expect(await raw.client('KILL', 'TYPE', 'pubsub')).toBeGreaterThanOrEqual(2);
      const event = await stream.next(5_000);
      expect(event).toMatchObject({ sessionId: id, reason: 'ended' });
    } finally {
      stream.close();
      raw.disconnect();
    }
  });
});

describe('two instances sharing PostgreSQL only (sessions in SQL)', () => {
  let db: TestDatabase;
  let a: TestApp;
  let b: TestApp;
  beforeAll(async () => {
    db = await createTestDatabase();
    [a, b] = await Promise.all([
      startApp({ databaseUrl: db.url, env: { SESSION_LIMIT_POLICY: 'reject', SESSION_MAX_PER_USER: '1' } }),
      startApp({ databaseUrl: db.url, env: { SESSION_LIMIT_POLICY: 'reject', SESSION_MAX_PER_USER: '1' } }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await db?.drop();
  });

  it('logout on A is effective on B', async () => {
    const onA = await a.signedIn(uniqueEmail());
    const onB = on(b, onA);
    expect((await onB.query('auth.me')).status).toBe(200);
    await onA.mutation('auth.logout');
    expect((await onB.query('auth.me')).error?.data.reason).toBe('logged_out');
  });

  it('a session-limit ticket issued by A is redeemed on B', async () => {
    const email = uniqueEmail();
    const first = await a.signedIn(email);
    const second = a.client();
    const conflict = await second.mutation('auth.login', { email, password: PASSWORD });
    expect(conflict.status).toBe(409);
    const { ticket, sessions } = conflict.error!.data.sessionLimit;
    expect(sessions).toHaveLength(1);
    const r = await on(b, second).mutation('auth.resolveSessionLimit', {
      ticket,
      revokeSessionId: sessions[0].id,
    });
    expect(r.status).toBe(200);
    expect((await first.query('auth.me')).error?.data.reason).toBe('revoked');
  });

  it('events.onSessionEnded hears a logout on the same instance', async () => {
    const watcher = await a.signedIn(uniqueEmail());
    const stream = await subscribeSessionEnded(watcher);
    await watcher.clone().mutation('auth.logout');
    const event = await stream.next();
    stream.close();
    expect(event.reason).toBe('logged_out');
  });
});
