/**
 * account.activity over real HTTP, embedded store: a person's own security events, newest first and
 * paginated, with the device, the IP and who did it from where they sit ("you, here", "you, on
 * another device", "an administrator", "Tessera") - never another user's ids. And what feeds it:
 * sign-ins and failed sign-ins (password, code), session ends, "This wasn't me", MFA and password
 * changes, the credential limit.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { totpCode } from '../src/auth/totp.js';
import { PASSWORD, startApp, type TestApp, uniqueEmail } from './helpers/app.js';
import type { HttpClient } from './helpers/http.js';

const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0';
const IPHONE =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) ' +
  'Version/17.5 Mobile/15E148 Safari/604.1';
const STEP = 30_000;

let app: TestApp;
beforeAll(async () => {
  app = await startApp();
});
afterAll(async () => {
  await app?.stop();
});

const sessionIdOf = (c: HttpClient) => c.sessionToken!.slice(0, 26);

async function signIn(email: string, userAgent: string): Promise<HttpClient> {
  const c = app.client({ 'user-agent': userAgent });
  const r = await c.mutation('auth.login', { email, password: PASSWORD });
  expect(r.status, JSON.stringify(r.error)).toBe(200);
  return c;
}

/** Every event of this account as `c` sees it, newest first (all pages). */
async function activity(c: HttpClient, limit = 50) {
  await app.runtime.deps.audit.flush();
  const all = [];
  let cursor: string | null = null;
  do {
    const r = await c.query('account.activity', { cursor, limit });
    expect(r.status, JSON.stringify(r.error)).toBe(200);
    all.push(...r.data.events);
    cursor = r.data.nextCursor;
  } while (cursor);
  return all;
}

describe('account.activity', () => {
  it('shows sign-ins, failed sign-ins and session ends with device, IP and who did it', async () => {
    const email = uniqueEmail();
    await app.createUser(email);
    const laptop = await signIn(email, FIREFOX);
    const wrong = await app
      .client({ 'user-agent': IPHONE })
      .mutation('auth.login', { email, password: `${PASSWORD}!` });
    expect(wrong.status).toBe(401);
    const phone = await signIn(email, IPHONE);
    const tablet = await signIn(email, IPHONE);
    const [laptopId, phoneId, tabletId] = [laptop, phone, tablet].map(sessionIdOf);
    const userId = (await laptop.query('auth.me')).data.user.id;

    // The laptop ends the phone's session; an administrator ends the tablet's; the tablet... is gone.
    expect((await laptop.mutation('sessions.revoke', { sessionId: phoneId })).status).toBe(200);
    const adminEmail = uniqueEmail('admin');
    const admin = await app.signedIn(adminEmail, { role: 'admin' });
    const adminId = (await admin.query('auth.me')).data.user.id;
    expect((await admin.mutation('admin.revokeSession', { userId, sessionId: tabletId })).data).toEqual({
      revoked: true,
    });
    // A second sign-in from the laptop's browser ends that browser's session first (logged out).
    const again = laptop.clone();
    expect((await again.mutation('auth.login', { email, password: PASSWORD })).status).toBe(200);

    const r = await laptop.query('account.activity');
    expect(r.status).toBe(401); // the laptop's session was the one the second sign-in replaced
    const events = await activity(again);
    const here = sessionIdOf(again);

    expect(events.map((e) => [e.type, e.reason])).toEqual([
      ['sign_in', null],
      ['session_ended', 'logged_out'],
      ['session_ended', 'revoked'],
      ['session_ended', 'revoked'],
      ['sign_in', null],
      ['sign_in', null],
      ['sign_in_failed', 'password'],
      ['sign_in', null],
    ]);
    const ats = events.map((e) => e.at);
    expect([...ats].sort((a, b) => b - a)).toEqual(ats);
    const [newSignIn, loggedOut, byAdmin, byLaptop, , phoneSignIn, failed, laptopSignIn] = events;

    expect(newSignIn).toMatchObject({
      sessionId: here,
      current: true,
      actor: { kind: 'self', current: true },
      browser: 'Firefox 128',
      os: 'Linux',
      device: 'desktop',
      ip: '127.0.0.1',
      detail: { mfa: false },
    });
    expect(loggedOut).toMatchObject({ sessionId: laptopId, current: false, actor: { kind: 'self' } });
    expect(byAdmin).toMatchObject({ sessionId: tabletId, actor: { kind: 'admin', current: false } });
    expect(byLaptop).toMatchObject({
      sessionId: phoneId,
      current: false,
      // Another of the user's sessions (the laptop's) ended the phone's.
      actor: { kind: 'session', current: false },
      browser: 'Firefox 128',
    });
    expect(phoneSignIn).toMatchObject({
      sessionId: phoneId,
      browser: 'Mobile Safari 17',
      os: 'iOS 17.5',
      device: 'mobile',
      userAgent: IPHONE,
    });
    expect(failed).toMatchObject({
      sessionId: null,
      current: false,
      device: 'mobile',
      actor: { kind: 'self' },
    });
    expect(laptopSignIn).toMatchObject({ sessionId: laptopId, actor: { kind: 'self', current: false } });
    for (const e of events) {
      expect(Object.keys(e).sort()).toEqual(
        [
          'actor',
          'at',
          'browser',
          'current',
          'detail',
          'device',
          'id',
          'ip',
          'os',
          'reason',
          'sessionId',
          'type',
          'userAgent',
        ].sort(),
      );
      expect(Object.keys(e.actor).sort()).toEqual(['current', 'kind']);
    }
    // The administrator is "an administrator": neither their id, their email nor their session.
    const wire = JSON.stringify(events);
    expect(wire).not.toContain(adminId);
    expect(wire).not.toContain(adminEmail);
    expect(wire).not.toContain(sessionIdOf(admin));
  });

  it('marks what this session did: "This wasn\'t me" (revokeOthers), then the password change', async () => {
    const email = uniqueEmail();
    await app.createUser(email);
    const mine = await signIn(email, FIREFOX);
    const intruder = await signIn(email, IPHONE);
    const intruderId = sessionIdOf(intruder);
    const r = await mine.mutation('sessions.revokeOthers');
    expect(r.data).toEqual({ revoked: 1 });
    expect((await intruder.query('auth.me')).error?.data.reason).toBe('revoked');
    const changed = await mine.mutation('auth.changePassword', {
      currentPassword: PASSWORD,
      newPassword: 'a brand new passphrase 42',
    });
    expect(changed.status, JSON.stringify(changed.error)).toBe(200);

    const [passwordChanged, ended] = await activity(mine);
    expect(passwordChanged).toMatchObject({
      type: 'password_changed',
      sessionId: sessionIdOf(mine),
      current: true,
      actor: { kind: 'self', current: true },
    });
    expect(ended).toMatchObject({
      type: 'session_ended',
      reason: 'revoked',
      sessionId: intruderId,
      current: false,
      actor: { kind: 'session', current: true },
    });
  });

  it('records MFA on and off, and a wrong code at sign-in', async () => {
    const email = uniqueEmail();
    await app.createUser(email);
    const c = await signIn(email, FIREFOX);
    const { secret } = (await c.mutation('mfa.beginEnrollment')).data;
    expect(
      (await c.mutation('mfa.confirmEnrollment', { code: totpCode(secret, Date.now() - STEP) })).status,
    ).toBe(200);
    const other = app.client({ 'user-agent': IPHONE });
    expect((await other.mutation('auth.login', { email, password: PASSWORD })).data.status).toBe(
      'mfa_required',
    );
    expect(
      (await other.mutation('auth.verifyMfa', { code: totpCode(secret, Date.now() + 20 * STEP) })).status,
    ).toBe(401);
    expect((await c.mutation('mfa.disable', { code: totpCode(secret) })).status).toBe(200);

    const types = (await activity(c)).map((e) => [e.type, e.reason, e.actor.kind]);
    expect(types.slice(0, 3)).toEqual([
      ['mfa_disabled', null, 'self'],
      ['sign_in_failed', 'code', 'self'],
      ['mfa_enabled', null, 'self'],
    ]);
  });

  it('pages with a cursor: no event twice, none skipped; a bad cursor is BAD_REQUEST', async () => {
    const email = uniqueEmail();
    await app.createUser(email);
    const c = await signIn(email, FIREFOX);
    for (let i = 0; i < 4; i++) {
      await app.client().mutation('auth.login', { email, password: 'not the password' });
    }
    const whole = await activity(c, 50);
    expect(whole).toHaveLength(5);
    const paged = await activity(c, 2);
    expect(paged.map((e) => e.id)).toEqual(whole.map((e) => e.id));
    const first = await c.query('account.activity', { limit: 2 });
    expect(first.data.events).toHaveLength(2);
    expect(first.data.nextCursor).toEqual(expect.any(String));
    expect((await c.query('account.activity', { cursor: 'nope' })).status).toBe(400);
    expect((await c.query('account.activity', { cursor: '99999999999999999999' })).status).toBe(400);
    expect((await c.query('account.activity', { limit: 51 })).status).toBe(400);
    expect((await c.query('account.activity', { limit: 0 })).status).toBe(400);
  });

  it("shows only this account's events, and needs a session", async () => {
    const a = await app.signedIn(uniqueEmail());
    const b = await app.signedIn(uniqueEmail());
    const bId = (await b.query('auth.me')).data.user.id;
    const seen = await activity(a);
    expect(seen).toHaveLength(1);
    expect(JSON.stringify(seen)).not.toContain(bId);
    expect(JSON.stringify(seen)).not.toContain(sessionIdOf(b));
    const anonymous = await app.client().query('account.activity');
    expect(anonymous.status).toBe(401);
  });
});

describe('the credential limit in the activity', () => {
  let limited: TestApp;
  beforeAll(async () => {
    limited = await startApp({
      env: { RATE_LIMIT_AUTH_PER_ACCOUNT: '2', RATE_LIMIT_AUTH_PER_IP: '6' },
    });
  });
  afterAll(async () => {
    await limited?.stop();
  });

  it('records rate_limited once per limit and window: the account (named) and the IP (no user)', async () => {
    const email = uniqueEmail();
    const user = await limited.createUser(email);
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      statuses.push((await limited.client().mutation('auth.login', { email, password: 'wrong' })).status);
    }
    expect(statuses).toEqual([401, 401, 429, 429]);
    // The IP's budget (6) runs out on other emails: 4 counted above, 2 more, then refused twice.
    for (let i = 0; i < 4; i++) {
      await limited.client().mutation('auth.login', { email: uniqueEmail(), password: 'wrong' });
    }
    await limited.runtime.deps.audit.flush();
    const mine = (await limited.runtime.deps.audit.list({ userId: user.id, limit: 50 })).events;
    expect(mine.map((e) => [e.type, e.reason])).toEqual([
      ['rate_limited', 'credential_account'],
      ['sign_in_failed', 'password'],
      ['sign_in_failed', 'password'],
    ]);
    const limits = (await limited.runtime.deps.audit.list({ types: ['rate_limited'], limit: 50 })).events;
    expect(limits.map((e) => [e.reason, e.userId])).toEqual([
      ['credential_ip', null],
      ['credential_account', user.id],
    ]);
  });
});
