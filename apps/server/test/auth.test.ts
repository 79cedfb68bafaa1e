/**
 * auth.* over real HTTP against the embedded store (PGlite): happy paths, errors, cookie attributes,
 * fixation.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { expectSessionCookie, PASSWORD, startApp, type TestApp, uniqueEmail } from './helpers/app.js';

let app: TestApp;
beforeAll(async () => {
  app = await startApp();
});
afterAll(async () => {
  await app?.stop();
});

describe('auth.login', () => {
  it('signs in, returns the user and sets the session cookie with safe attributes', async () => {
    const email = uniqueEmail();
    await app.createUser(email);
    const c = app.client();
    const r = await c.mutation('auth.login', { email, password: PASSWORD });
    expect(r.status).toBe(200);
    expect(r.data).toMatchObject({ status: 'signed_in', user: { email, role: 'user', mfaEnabled: false } });
    expect(r.setCookies).toHaveLength(1);
    expectSessionCookie(r.setCookies[0]);
    expect(JSON.stringify(r.data)).not.toContain(c.sessionToken);
    expect(r.headers.get('cache-control')).toBe('no-store');
  });

  it('matches the email case-insensitively', async () => {
    const email = uniqueEmail('Mixed');
    await app.createUser(email);
    const r = await app.client().mutation('auth.login', { email: email.toUpperCase(), password: PASSWORD });
    expect(r.status).toBe(200);
  });

  it('gives the same error for a wrong password and an unknown email, and sets no cookie', async () => {
    const email = uniqueEmail();
    await app.createUser(email);
    const wrong = await app.client().mutation('auth.login', { email, password: 'not the password at all' });
    const unknown = await app
      .client()
      .mutation('auth.login', { email: uniqueEmail('nobody'), password: PASSWORD });
    for (const r of [wrong, unknown]) {
      expect(r.status).toBe(401);
      expect(r.error?.data).toMatchObject({ code: 'UNAUTHORIZED', reason: 'invalid_credentials' });
      expect(r.setCookies).toEqual([]);
    }
    expect(unknown.error?.message).toBe(wrong.error?.message);
  });

  it('spends an argon2 verification on unknown emails too (same timing)', async () => {
    const spy = vi.spyOn(app.runtime.deps.passwords, 'verifyDummy');
    const r = await app.client().mutation('auth.login', { email: uniqueEmail('ghost'), password: PASSWORD });
    expect(r.status).toBe(401);
    expect(spy).toHaveBeenCalledTimes(1);
    spy.mockRestore();
  });

  it('refuses invalid input with 400 and the field at fault', async () => {
    const r = await app.client().mutation('auth.login', { email: 'x@example.com' });
    expect(r.status).toBe(400);
    expect(r.error?.data.code).toBe('BAD_REQUEST');
    expect(r.error?.data.issues).toEqual([expect.objectContaining({ path: 'password' })]);
  });

  it('never adopts a planted cookie (fixation): a made-up token is replaced and stays dead', async () => {
    const email = uniqueEmail();
    await app.createUser(email);
    const c = app.client();
    const planted = `${'A'.repeat(26)}.${'B'.repeat(43)}`;
    c.jar.set('__Host-tessera', planted);
    const r = await c.mutation('auth.login', { email, password: PASSWORD });
    expect(r.status).toBe(200);
    const cookie = expectSessionCookie(r.setCookies.at(-1));
    expect(cookie.value).not.toBe(planted);
    const attacker = app.client();
    attacker.jar.set('__Host-tessera', planted);
    expect((await attacker.query('auth.me')).status).toBe(401);
  });

  it("destroys a live session the request carried (an attacker's own planted session)", async () => {
    const attackerEmail = uniqueEmail('attacker');
    const attacker = await app.signedIn(attackerEmail);
    const planted = attacker.sessionToken!;
    const victimEmail = uniqueEmail('victim');
    await app.createUser(victimEmail);
    const victim = app.client();
    victim.jar.set('__Host-tessera', planted);
    const r = await victim.mutation('auth.login', { email: victimEmail, password: PASSWORD });
    expect(r.status).toBe(200);
    expect(victim.sessionToken).not.toBe(planted);
    const me = await victim.query('auth.me');
    expect(me.data.user.email).toBe(victimEmail);
    const old = await attacker.query('auth.me');
    expect(old.status).toBe(401);
    expect(old.error?.data.reason).toBe('logged_out');
  });
});

describe('auth.me', () => {
  it('is UNAUTHORIZED with reason "missing" without a cookie', async () => {
    const r = await app.client().query('auth.me');
    expect(r.status).toBe(401);
    expect(r.error?.data).toMatchObject({ code: 'UNAUTHORIZED', reason: 'missing' });
    expect(r.setCookies).toEqual([]);
  });

  it('returns the user and the session deadlines', async () => {
    const email = uniqueEmail();
    const c = await app.signedIn(email);
    const r = await c.query('auth.me');
    expect(r.status).toBe(200);
    const { user, session } = r.data;
    expect(user).toEqual({ id: expect.any(String), email, role: 'user', mfaEnabled: false });
    const { idleMs, absoluteMs } = app.runtime.deps.sessions.policy;
    expect(session.idleExpiresAt).toBe(session.lastActivityAt + idleMs);
    expect(session.absoluteExpiresAt).toBe(session.createdAt + absoluteMs);
    expect(session.id).toBe(c.sessionToken!.slice(0, 26));
    expect(r.setCookies).toEqual([]);
  });

  it('clears a malformed cookie and says why', async () => {
    const c = app.client();
    c.jar.set('__Host-tessera', 'garbage');
    const r = await c.query('auth.me');
    expect(r.status).toBe(401);
    expect(r.error?.data.reason).toBe('malformed');
    expectSessionCookie(r.setCookies[0], { cleared: true });
  });
});

describe('auth.ping', () => {
  it('slides the idle deadline', async () => {
    const c = await app.signedIn(uniqueEmail());
    const before = (await c.query('auth.me')).data.session;
    await new Promise((r) => setTimeout(r, 20));
    const r = await c.mutation('auth.ping');
    expect(r.status).toBe(200);
    expect(r.data.idleExpiresAt).toBeGreaterThan(before.idleExpiresAt);
    expect(r.data.absoluteExpiresAt).toBe(before.absoluteExpiresAt);
  });

  it('is UNAUTHORIZED without a session', async () => {
    expect((await app.client().mutation('auth.ping')).status).toBe(401);
  });
});

describe('auth.logout', () => {
  it('ends the session server-side and clears the cookie', async () => {
    const c = await app.signedIn(uniqueEmail());
    const token = c.sessionToken!;
    const r = await c.mutation('auth.logout');
    expect(r.status).toBe(200);
    expect(r.data).toEqual({ ended: true });
    expectSessionCookie(r.setCookies[0], { cleared: true });
    const replay = app.client();
    replay.jar.set('__Host-tessera', token);
    const me = await replay.query('auth.me');
    expect(me.status).toBe(401);
    expect(me.error?.data.reason).toBe('logged_out');
    expectSessionCookie(me.setCookies[0], { cleared: true });
  });

  it('succeeds without a session (idempotent)', async () => {
    const r = await app.client().mutation('auth.logout');
    expect(r.status).toBe(200);
    expect(r.data).toEqual({ ended: false });
  });
});

describe('auth.reauthenticate and freshness', () => {
  it('refuses a wrong password without ending the session', async () => {
    const c = await app.signedIn(uniqueEmail());
    const r = await c.mutation('auth.reauthenticate', { password: 'wrong password here' });
    expect(r.status).toBe(403);
    expect(r.error?.data.reason).toBe('invalid_credentials');
    expect((await c.query('auth.me')).status).toBe(200);
  });

  it('makes a stale session fresh again', async () => {
    const c = await app.signedIn(uniqueEmail());
    // Age the sign-in beyond FRESH_AUTH_WINDOW (as if minutes had passed).
    await app.runtime.deps.sessions.patch(c.sessionToken!, { authAt: 0 });
    const stale = await c.mutation('sessions.revokeOthers');
    expect(stale.status).toBe(403);
    expect(stale.error?.data).toMatchObject({ code: 'FORBIDDEN', reason: 'reauthentication_required' });
    const before = c.sessionToken!;
    const r = await c.mutation('auth.reauthenticate', { password: PASSWORD });
    expect(r.status).toBe(200);
    expect(r.data.freshUntil).toBeGreaterThan(Date.now());
    // Re-authentication issues a new token for the same session (ASVS 5.0 7.2.4).
    const rotated = expectSessionCookie(r.setCookies[0]);
    expect(rotated.value).not.toBe(before);
    expect(rotated.value.slice(0, 26)).toBe(before.slice(0, 26));
    expect((await c.mutation('sessions.revokeOthers')).status).toBe(200);
    const old = app.client();
    old.jar.set('__Host-tessera', before);
    expect((await old.query('auth.me')).error?.data.reason).toBe('rotated');
  });
});

describe('auth.changePassword', () => {
  it('refuses a wrong current password', async () => {
    const c = await app.signedIn(uniqueEmail());
    const r = await c.mutation('auth.changePassword', {
      currentPassword: 'not my password',
      newPassword: 'a brand new long passphrase',
    });
    expect(r.status).toBe(403);
    expect(r.error?.data.reason).toBe('invalid_credentials');
  });

  it.each([
    ['too short', 'short pass', /at least 12/],
    ['too common', 'password1234', /too common/],
    ['too long', 'x'.repeat(129), /at most 128/],
    ['the same as before', PASSWORD, /different/],
  ])('refuses a new password that is %s', async (_label, newPassword, message) => {
    const c = await app.signedIn(uniqueEmail());
    const r = await c.mutation('auth.changePassword', { currentPassword: PASSWORD, newPassword });
    expect(r.status).toBe(400);
    expect(r.error?.message).toMatch(message);
    expect(r.error?.data.issues).toEqual([{ path: 'newPassword', message: expect.stringMatching(message) }]);
  });

  it('rotates this session, ends all others (password_changed) and returns how many', async () => {
    const email = uniqueEmail();
    const c = await app.signedIn(email);
    const others = [app.client(), app.client()];
    for (const o of others) await o.mutation('auth.login', { email, password: PASSWORD });
    const oldToken = c.sessionToken!;
    const newPassword = 'another quite long passphrase';
    const r = await c.mutation('auth.changePassword', { currentPassword: PASSWORD, newPassword });
    expect(r.status).toBe(200);
    expect(r.data).toEqual({ revoked: 2 });
    const rotated = expectSessionCookie(r.setCookies.at(-1));
    expect(rotated.value).not.toBe(oldToken);
    expect(rotated.value.slice(0, 26)).toBe(oldToken.slice(0, 26)); // same session id, new secret
    expect((await c.query('auth.me')).status).toBe(200);
    for (const o of others) {
      const me = await o.query('auth.me');
      expect(me.status).toBe(401);
      expect(me.error?.data.reason).toBe('password_changed');
    }
    const stale = app.client();
    stale.jar.set('__Host-tessera', oldToken);
    expect((await stale.query('auth.me')).error?.data.reason).toBe('rotated');
    expect((await app.client().mutation('auth.login', { email, password: PASSWORD })).status).toBe(401);
    expect((await app.client().mutation('auth.login', { email, password: newPassword })).status).toBe(200);
  });
});
