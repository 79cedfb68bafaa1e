/** mfa.* and the MFA sign-in (auth.login -> auth.verifyMfa) over real HTTP, embedded store. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { totpCode } from '../src/auth/totp.js';
import { expectSessionCookie, PASSWORD, startApp, type TestApp, uniqueEmail } from './helpers/app.js';
import { type HttpClient, parseSetCookie } from './helpers/http.js';

let app: TestApp;
beforeAll(async () => {
  app = await startApp();
});
afterAll(async () => {
  await app?.stop();
});

const STEP = 30_000;

/** Signs a new user in and turns MFA on; returns the client, the email and the secret. */
async function enrolled(): Promise<{ c: HttpClient; email: string; secret: string }> {
  const email = uniqueEmail('mfa');
  const c = await app.signedIn(email);
  const begin = await c.mutation('mfa.beginEnrollment');
  expect(begin.status).toBe(200);
  const { secret } = begin.data;
  // A code from the previous step (accepted: drift window), so that the test can use the current one next.
  const confirm = await c.mutation('mfa.confirmEnrollment', { code: totpCode(secret, Date.now() - STEP) });
  expect(confirm.status, JSON.stringify(confirm.error)).toBe(200);
  return { c, email, secret };
}

describe('enrollment', () => {
  it('beginEnrollment returns a secret and an otpauth URL, and needs a fresh session', async () => {
    const email = uniqueEmail();
    const c = await app.signedIn(email);
    const r = await c.mutation('mfa.beginEnrollment');
    expect(r.status).toBe(200);
    expect(r.data.secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(r.data.otpauthUrl).toMatch(/^otpauth:\/\/totp\/Tessera:/);
    expect(r.data.otpauthUrl).toContain(`secret=${r.data.secret}`);
    await app.runtime.deps.sessions.patch(c.sessionToken!, { authAt: 0 });
    const stale = await c.mutation('mfa.beginEnrollment');
    expect(stale.status).toBe(403);
    expect(stale.error?.data.reason).toBe('reauthentication_required');
  });

  it('confirmEnrollment refuses a wrong code, then turns MFA on and rotates the session', async () => {
    const c = await app.signedIn(uniqueEmail());
    expect((await c.mutation('mfa.confirmEnrollment', { code: '123456' })).status).toBe(412);
    const { secret } = (await c.mutation('mfa.beginEnrollment')).data;
    const wrong = await c.mutation('mfa.confirmEnrollment', {
      code: totpCode(secret, Date.now() + 10 * STEP),
    });
    expect(wrong.status).toBe(403);
    expect(wrong.error?.data.reason).toBe('invalid_code');
    const before = c.sessionToken!;
    const ok = await c.mutation('mfa.confirmEnrollment', { code: totpCode(secret) });
    expect(ok.status).toBe(200);
    expect(ok.data).toEqual({ enabled: true, revoked: 0 });
    const rotated = expectSessionCookie(ok.setCookies.at(-1));
    expect(rotated.value).not.toBe(before);
    expect((await c.query('auth.me')).data.user.mfaEnabled).toBe(true);
    expect((await c.mutation('mfa.beginEnrollment')).status).toBe(409);
  });

  it('refuses malformed codes as invalid input', async () => {
    const c = await app.signedIn(uniqueEmail());
    const r = await c.mutation('mfa.confirmEnrollment', { code: '12ab56' });
    expect(r.status).toBe(400);
    expect(r.error?.data.issues?.[0]?.path).toBe('code');
  });
});

describe('sign-in with MFA', () => {
  it('login answers mfa_required with a challenge cookie, not a session', async () => {
    const { email } = await enrolled();
    const c = app.client();
    const before = Date.now();
    const r = await c.mutation('auth.login', { email, password: PASSWORD });
    expect(r.status).toBe(200);
    expect(r.data).toEqual({ status: 'mfa_required', expiresAt: expect.any(Number), attemptsLeft: 5 });
    expect(r.data.expiresAt).toBeGreaterThanOrEqual(before + 10 * 60_000);
    expect(r.data.expiresAt).toBeLessThanOrEqual(Date.now() + 10 * 60_000);
    expect(r.setCookies).toHaveLength(1);
    const challenge = parseSetCookie(r.setCookies[0]!);
    expect(challenge.name).toBe('__Host-tessera-mfa');
    expect(challenge.attributes).toMatchObject({
      httponly: true,
      secure: true,
      samesite: 'Strict',
      path: '/',
      'max-age': '600',
    });
    expect(c.sessionToken).toBeUndefined();
    expect((await c.query('auth.me')).status).toBe(401);
  });

  it('verifyMfa with the right code signs in and kills the challenge', async () => {
    const { email, secret } = await enrolled();
    const c = app.client();
    await c.mutation('auth.login', { email, password: PASSWORD });
    const challenge = c.jar.get('__Host-tessera-mfa')!;
    const r = await c.mutation('auth.verifyMfa', { code: totpCode(secret) });
    expect(r.status).toBe(200);
    expect(r.data).toMatchObject({ status: 'signed_in', user: { email, mfaEnabled: true } });
    const cookies = r.setCookies.map(parseSetCookie);
    expect(cookies.find((k) => k.name === '__Host-tessera-mfa')?.attributes['max-age']).toBe('0');
    expectSessionCookie(r.setCookies.find((s) => s.startsWith('__Host-tessera=')));
    expect((await c.query('auth.me')).data.session.mfa).toBe(true);
    // The challenge is single-use, and the code can't be replayed.
    const replay = app.client();
    replay.jar.set('__Host-tessera-mfa', challenge);
    const again = await replay.mutation('auth.verifyMfa', { code: totpCode(secret) });
    expect(again.status).toBe(401);
    expect(again.error?.data.reason).toBe('mfa_challenge_invalid');
  });

  it('a used code is refused on the next sign-in (no replay)', async () => {
    const { email, secret } = await enrolled();
    const first = app.client();
    await first.mutation('auth.login', { email, password: PASSWORD });
    const code = totpCode(secret);
    expect((await first.mutation('auth.verifyMfa', { code })).status).toBe(200);
    const second = app.client();
    await second.mutation('auth.login', { email, password: PASSWORD });
    const r = await second.mutation('auth.verifyMfa', { code });
    expect(r.status).toBe(401);
    expect(r.error?.data.reason).toBe('invalid_code');
  });

  it('allows 5 attempts per challenge, then the challenge is dead even for the right code', async () => {
    const { email, secret } = await enrolled();
    const c = app.client();
    await c.mutation('auth.login', { email, password: PASSWORD });
    const bad = totpCode(secret, Date.now() + 20 * STEP);
    for (let i = 0; i < 5; i++) {
      const r = await c.mutation('auth.verifyMfa', { code: bad });
      expect(r.status).toBe(401);
      expect(r.error?.data.reason).toBe('invalid_code');
      expect(r.error?.data.attemptsLeft).toBe(4 - i);
    }
    const r = await c.mutation('auth.verifyMfa', { code: totpCode(secret) });
    expect(r.status).toBe(401);
    expect(r.error?.data.reason).toBe('mfa_challenge_invalid');
    expect(c.sessionToken).toBeUndefined();
  });

  it('verifyMfa without a challenge is refused', async () => {
    const r = await app.client().mutation('auth.verifyMfa', { code: '123456' });
    expect(r.status).toBe(401);
    expect(r.error?.data.reason).toBe('mfa_challenge_invalid');
  });
});

describe('mfa.disable', () => {
  it('needs a fresh session and a valid code, then turns MFA off', async () => {
    const { c, email, secret } = await enrolled();
    expect((await c.mutation('mfa.disable', { code: totpCode(secret, Date.now() + 20 * STEP) })).status).toBe(
      403,
    );
    await app.runtime.deps.sessions.patch(c.sessionToken!, { authAt: 0 });
    const stale = await c.mutation('mfa.disable', { code: totpCode(secret) });
    expect(stale.error?.data.reason).toBe('reauthentication_required');
    await c.mutation('auth.reauthenticate', { password: PASSWORD });
    const other = app.client();
    expect((await other.mutation('auth.login', { email, password: PASSWORD })).data.status).toBe(
      'mfa_required',
    );
    expect((await other.mutation('auth.verifyMfa', { code: totpCode(secret) })).status).toBe(200);
    // Codes are single-use and steps only move forward: the next step's code.
    const r = await c.mutation('mfa.disable', {
      code: totpCode(secret, Date.now() + STEP),
      revokeOtherSessions: true,
    });
    expect(r.status).toBe(200);
    expect(r.data).toEqual({ enabled: false, revoked: 1 });
    expect((await other.query('auth.me')).error?.data.reason).toBe('revoked');
    const login = await app.client().mutation('auth.login', { email, password: PASSWORD });
    expect(login.data.status).toBe('signed_in');
  });
});
