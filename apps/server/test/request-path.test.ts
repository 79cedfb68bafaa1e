/**
 * The per-request path: auth.me answers from the session (no users read) and stays current when MFA
 * or the role changes; health.check, the trivial public query; the fixed API security headers; the
 * in-memory coarse request limiter.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { totpCode } from '../src/auth/totp.js';
import { memoryRequestLimiter } from '../src/limits/request-limit.js';
import { PASSWORD, startApp, type TestApp, uniqueEmail } from './helpers/app.js';

let app: TestApp;
beforeAll(async () => {
  app = await startApp();
});
afterAll(async () => {
  await app?.stop();
});

/** Counts users.findById calls while `run` runs. */
async function userReads(run: () => Promise<void>): Promise<number> {
  const users = app.runtime.deps.users;
  const original = users.findById;
  let reads = 0;
  users.findById = (id) => {
    reads++;
    return original(id);
  };
  try {
    await run();
  } finally {
    users.findById = original;
  }
  return reads;
}

describe('auth.me from the session', () => {
  it('answers without reading the users table, in the same shape', async () => {
    const email = uniqueEmail();
    const c = await app.signedIn(email);
    let me: Awaited<ReturnType<typeof c.query>> | undefined;
    const reads = await userReads(async () => {
      me = await c.query('auth.me');
    });
    expect(reads).toBe(0);
    expect(me?.status).toBe(200);
    expect(me?.data.user).toEqual({ id: expect.any(String), email, role: 'user', mfaEnabled: false });
  });

  it('a session issued without the fields (before they existed) still answers, from the users table', async () => {
    const email = uniqueEmail();
    const user = await app.createUser(email);
    const { sessions } = app.runtime.deps;
    const issued = await sessions.create({ userId: user.id, data: { role: 'user', authAt: 0, mfa: false } });
    const c = app.client();
    c.jar.set(sessions.cookieName, issued.token);
    const me = await c.query('auth.me');
    expect(me.data.user).toEqual({ id: user.id, email, role: 'user', mfaEnabled: false });
  });

  it('every session of the user follows MFA on and off', async () => {
    const email = uniqueEmail('mfa');
    const a = await app.signedIn(email);
    const b = app.client();
    expect((await b.mutation('auth.login', { email, password: PASSWORD })).status).toBe(200);
    const { secret } = (await a.mutation('mfa.beginEnrollment')).data;
    expect(
      (await a.mutation('mfa.confirmEnrollment', { code: totpCode(secret, Date.now() - 30_000) })).status,
    ).toBe(200);
    for (const c of [a, b]) expect((await c.query('auth.me')).data.user.mfaEnabled).toBe(true);
    const off = await a.mutation('mfa.disable', { code: totpCode(secret) });
    expect(off.status, JSON.stringify(off.error)).toBe(200);
    for (const c of [a, b]) expect((await c.query('auth.me')).data.user.mfaEnabled).toBe(false);
  });

  it('follows a role change', async () => {
    const admin = await app.signedIn(uniqueEmail('admin'), { role: 'admin' });
    const c = await app.signedIn(uniqueEmail());
    const id = (await c.query('auth.me')).data.user.id;
    expect((await admin.mutation('admin.setRole', { userId: id, role: 'admin' })).status).toBe(200);
    expect((await c.query('auth.me')).data.user.role).toBe('admin');
  });
});

describe('health.check and the API headers', () => {
  it('answers without a session, no-store, with the fixed security headers', async () => {
    const r = await app.client().query('health.check');
    expect(r.status).toBe(200);
    expect(r.data).toEqual({ status: 'ok' });
    expect(r.setCookies).toEqual([]);
    expect(r.headers.get('cache-control')).toBe('no-store');
    expect(r.headers.get('content-security-policy')).toBe("default-src 'none'; frame-ancestors 'none'");
    expect(r.headers.get('x-content-type-options')).toBe('nosniff');
    expect(r.headers.get('x-frame-options')).toBe('DENY');
    expect(r.headers.get('referrer-policy')).toBe('no-referrer');
    expect(r.headers.get('cross-origin-resource-policy')).toBe('same-origin');
  });

  it('refusals at the edge carry them too', async () => {
    const r = await app.client().query('health.check', undefined, { 'sec-fetch-site': 'cross-site' });
    expect(r.status).toBe(403);
    expect(r.headers.get('x-content-type-options')).toBe('nosniff');
    expect(r.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
  });
});

describe('memoryRequestLimiter', () => {
  it('counts per key in a fixed window that starts at the first request', () => {
    const l = memoryRequestLimiter({ max: 2, windowMs: 1_000 });
    expect(l.hit('a', 0)).toEqual({ allowed: true, retryAfterMs: 1_000 });
    expect(l.hit('a', 100).allowed).toBe(true);
    expect(l.hit('a', 200)).toEqual({ allowed: false, retryAfterMs: 800 });
    expect(l.hit('b', 200).allowed).toBe(true);
    expect(l.hit('a', 1_000).allowed).toBe(true); // a new window
  });

  it('stays within maxKeys, dropping the oldest windows first', () => {
    const l = memoryRequestLimiter({ max: 1, windowMs: 60_000, maxKeys: 3 });
    for (const key of ['a', 'b', 'c', 'd']) expect(l.hit(key, 0).allowed).toBe(true);
    expect(l.size).toBe(3);
    expect(l.hit('d', 1).allowed).toBe(false);
    expect(l.hit('a', 1).allowed).toBe(true); // 'a' was dropped: it counts afresh
  });

  it('drops finished windows as new ones arrive', () => {
    const l = memoryRequestLimiter({ max: 1, windowMs: 10 });
    for (let i = 0; i < 100; i++) l.hit(`k${i}`, i * 20);
    expect(l.size).toBeLessThanOrEqual(2);
  });
});
