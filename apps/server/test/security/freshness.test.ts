/**
 * Issue 9, defects 1 and 2, over real HTTP: privilege never rests on an old session alone.
 *  - every admin mutation needs a fresh admin session (ASVS 5.0 7.5.3), not only the user-facing ones;
 *  - MFA enrollment: confirm needs a fresh session, refuses when MFA is already on, and a pending
 *    enrollment expires and is cleared in every session once MFA turns on.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { totpCode } from '../../src/auth/totp.js';
import { PASSWORD, startApp, type TestApp, uniqueEmail } from '../helpers/app.js';
import type { HttpClient } from '../helpers/http.js';

let app: TestApp;
beforeAll(async () => {
  app = await startApp();
});
afterAll(async () => {
  await app?.stop();
});

/** Makes the client's session as old as a stolen cookie: its password entry is past the fresh window. */
const makeStale = (c: HttpClient) => app.runtime.deps.sessions.patch(c.sessionToken!, { authAt: 0 });

/** A second signed-in client of an existing user. */
async function alsoSignedIn(email: string): Promise<HttpClient> {
  const c = app.client();
  expect((await c.mutation('auth.login', { email, password: PASSWORD })).status).toBe(200);
  return c;
}

const userIdOf = async (c: HttpClient): Promise<string> => (await c.query('auth.me')).data.user.id;

describe('admin mutations need a fresh admin session (defect 1)', () => {
  it('admin.setRole: 403 reauthentication_required on a stale admin session, and nothing changes', async () => {
    const admin = await app.signedIn(uniqueEmail('admin'), { role: 'admin' });
    const target = await app.signedIn(uniqueEmail('attacker'));
    const targetId = await userIdOf(target);
    await makeStale(admin);
    const r = await admin.mutation('admin.setRole', { userId: targetId, role: 'admin' });
    expect(r.status).toBe(403);
    expect(r.error?.data.reason).toBe('reauthentication_required');
    expect((await app.runtime.deps.users.findById(targetId))?.role).toBe('user');
    // After re-entering the password the same call goes through.
    expect((await admin.mutation('auth.reauthenticate', { password: PASSWORD })).status).toBe(200);
    expect((await admin.mutation('admin.setRole', { userId: targetId, role: 'admin' })).status).toBe(200);
  });

  it('admin.revokeUserSessions: 403 on a stale admin session; the victim stays signed in', async () => {
    const admin = await app.signedIn(uniqueEmail('admin'), { role: 'admin' });
    const victim = await app.signedIn(uniqueEmail());
    const victimId = await userIdOf(victim);
    await makeStale(admin);
    const r = await admin.mutation('admin.revokeUserSessions', { userId: victimId });
    expect(r.status).toBe(403);
    expect(r.error?.data.reason).toBe('reauthentication_required');
    expect((await victim.query('auth.me')).status).toBe(200);
  });

  it('admin reads stay open to a signed-in admin past the fresh window', async () => {
    const admin = await app.signedIn(uniqueEmail('admin'), { role: 'admin' });
    await makeStale(admin);
    expect((await admin.query('admin.listUsers')).status).toBe(200);
  });
});

describe('MFA enrollment (defect 2)', () => {
  it('confirmEnrollment needs a fresh session', async () => {
    const c = await app.signedIn(uniqueEmail());
    const { secret } = (await c.mutation('mfa.beginEnrollment')).data;
    await makeStale(c);
    const r = await c.mutation('mfa.confirmEnrollment', { code: totpCode(secret) });
    expect(r.status).toBe(403);
    expect(r.error?.data.reason).toBe('reauthentication_required');
    expect((await c.query('auth.me')).data.user.mfaEnabled).toBe(false);
  });

  it("a second session's enrollment can't replace the factor another session turned on", async () => {
    const email = uniqueEmail('mfa');
    const a = await app.signedIn(email);
    const b = await alsoSignedIn(email);
    const pendingA = (await a.mutation('mfa.beginEnrollment')).data.secret as string;
    const secretB = (await b.mutation('mfa.beginEnrollment')).data.secret as string;
    expect((await b.mutation('mfa.confirmEnrollment', { code: totpCode(secretB) })).status).toBe(200);
    const r = await a.mutation('mfa.confirmEnrollment', {
      code: totpCode(pendingA),
      revokeOtherSessions: true,
    });
    expect(r.status).toBeGreaterThanOrEqual(400);
    const user = await app.runtime.deps.users.findByEmail(email);
    // B's factor is still the one in force, and B is still signed in.
    expect(totpCode(user!.mfaSecret!)).toBe(totpCode(secretB));
    expect((await b.query('auth.me')).status).toBe(200);
  });

  it('turning MFA on clears the pending enrollment of every session of the user', async () => {
    const email = uniqueEmail('mfa');
    const a = await app.signedIn(email);
    const b = await alsoSignedIn(email);
    await a.mutation('mfa.beginEnrollment');
    const secretB = (await b.mutation('mfa.beginEnrollment')).data.secret as string;
    expect((await b.mutation('mfa.confirmEnrollment', { code: totpCode(secretB) })).status).toBe(200);
    const session = await app.runtime.deps.sessions.validate(a.sessionToken!);
    expect(session.session?.data.mfaPending ?? null).toBeNull();
  });

  it('a pending enrollment expires', async () => {
    const c = await app.signedIn(uniqueEmail());
    const { secret } = (await c.mutation('mfa.beginEnrollment')).data;
    // The enrollment began long ago; the session itself was re-authenticated just now.
    const { sessions } = app.runtime.deps;
    const current = await sessions.validate(c.sessionToken!);
    await sessions.patch(c.sessionToken!, {
      mfaPendingUntil: Date.now() - 1,
      authAt: current.session!.data.authAt,
    } as never);
    const r = await c.mutation('mfa.confirmEnrollment', { code: totpCode(secret) });
    expect(r.status).toBe(412);
    expect((await c.query('auth.me')).data.user.mfaEnabled).toBe(false);
  });
});
