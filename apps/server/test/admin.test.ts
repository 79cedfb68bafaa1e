/** admin.* over real HTTP, embedded store: authorization, role changes that rotate and apply at once. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectSessionCookie, PASSWORD, startApp, type TestApp, uniqueEmail } from './helpers/app.js';

let app: TestApp;
beforeAll(async () => {
  app = await startApp();
});
afterAll(async () => {
  await app?.stop();
});

describe('admin.listUsers', () => {
  it('is FORBIDDEN for a user and UNAUTHORIZED without a session', async () => {
    const c = await app.signedIn(uniqueEmail());
    const r = await c.query('admin.listUsers');
    expect(r.status).toBe(403);
    expect(r.error?.data.reason).toBe('admin_required');
    expect((await app.client().query('admin.listUsers')).status).toBe(401);
  });

  it('lists users (paged) for an admin, without secrets', async () => {
    const admin = await app.signedIn(uniqueEmail('admin'), { role: 'admin' });
    const r = await admin.query('admin.listUsers', { limit: 100 });
    expect(r.status).toBe(200);
    expect(r.data.users.length).toBeGreaterThanOrEqual(1);
    const u = r.data.users[0];
    expect(Object.keys(u).sort()).toEqual(['createdAt', 'disabled', 'email', 'id', 'mfaEnabled', 'role']);
    const page = await admin.query('admin.listUsers', { limit: 1 });
    expect(page.data.users).toHaveLength(1);
    expect(page.data.nextCursor).toEqual(expect.any(String));
    expect((await admin.query('admin.listUsers', { limit: 0 })).status).toBe(400);
    expect((await admin.query('admin.listUsers', { limit: 101 })).status).toBe(400);
  });

  it("admin.getUser lists each user's live sessions", async () => {
    const admin = await app.signedIn(uniqueEmail('admin'), { role: 'admin' });
    const email = uniqueEmail();
    const first = await app.signedIn(email);
    expect((await app.client().mutation('auth.login', { email, password: PASSWORD })).status).toBe(200);
    const id = (await first.query('auth.me')).data.user.id;
    const count = async () => (await admin.query('admin.getUser', { userId: id })).data.sessions.length;
    expect(await count()).toBe(2);
    await first.mutation('auth.logout');
    expect(await count()).toBe(1);
  });
});

describe('admin.setRole', () => {
  it('promotion: the user gets the role and a new token on the next request', async () => {
    const admin = await app.signedIn(uniqueEmail('admin'), { role: 'admin' });
    const email = uniqueEmail();
    const user = await app.signedIn(email);
    const id = (await user.query('auth.me')).data.user.id;
    const oldToken = user.sessionToken!;
    const r = await admin.mutation('admin.setRole', { userId: id, role: 'admin' });
    expect(r.status).toBe(200);
    expect(r.data).toEqual({ user: { id, email, role: 'admin', mfaEnabled: false }, sessionsUpdated: 1 });
    const next = await user.query('admin.listUsers');
    expect(next.status).toBe(200);
    const rotated = expectSessionCookie(next.setCookies[0]);
    expect(rotated.value).not.toBe(oldToken);
    expect(rotated.value.slice(0, 26)).toBe(oldToken.slice(0, 26));
    const replay = app.client();
    replay.jar.set('__Host-tessera', oldToken);
    expect((await replay.query('auth.me')).error?.data.reason).toBe('rotated');
    expect((await user.query('auth.me')).data.user.role).toBe('admin');
  });

  it('demotion applies on the very next request', async () => {
    const a = await app.signedIn(uniqueEmail('admin'), { role: 'admin' });
    const b = await app.signedIn(uniqueEmail('admin'), { role: 'admin' });
    expect((await b.query('admin.listUsers')).status).toBe(200);
    const bId = (await b.query('auth.me')).data.user.id;
    expect((await a.mutation('admin.setRole', { userId: bId, role: 'user' })).status).toBe(200);
    const r = await b.query('admin.listUsers');
    expect(r.status).toBe(403);
    expect(r.error?.data.reason).toBe('admin_required');
  });

  it('NOT_FOUND for an unknown user, BAD_REQUEST for an unknown role, FORBIDDEN for users', async () => {
    const admin = await app.signedIn(uniqueEmail('admin'), { role: 'admin' });
    expect((await admin.mutation('admin.setRole', { userId: 'nope', role: 'admin' })).status).toBe(404);
    expect((await admin.mutation('admin.setRole', { userId: 'nope', role: 'root' })).status).toBe(400);
    // PostgreSQL refuses a NUL byte in text: the input check answers first (was a 500, found by fuzzing).
    expect((await admin.mutation('admin.setRole', { userId: 'a\u0000b', role: 'admin' })).status).toBe(400);
    expect((await admin.mutation('admin.revokeUserSessions', { userId: '\u0000' })).status).toBe(400);
    const user = await app.signedIn(uniqueEmail());
    const id = (await user.query('auth.me')).data.user.id;
    expect((await user.mutation('admin.setRole', { userId: id, role: 'admin' })).status).toBe(403);
  });

  it('admin.revokeUserSessions ends every session of a user', async () => {
    const admin = await app.signedIn(uniqueEmail('admin'), { role: 'admin' });
    const email = uniqueEmail();
    const one = await app.signedIn(email);
    const two = app.client();
    await two.mutation('auth.login', { email, password: PASSWORD });
    const id = (await one.query('auth.me')).data.user.id;
    expect((await one.mutation('admin.revokeUserSessions', { userId: id })).status).toBe(403);
    const r = await admin.mutation('admin.revokeUserSessions', { userId: id });
    expect(r.data).toEqual({ revoked: 2 });
    for (const c of [one, two]) expect((await c.query('auth.me')).error?.data.reason).toBe('revoked');
    expect((await admin.mutation('admin.revokeUserSessions', { userId: 'nope' })).status).toBe(404);
  });

  it('refuses to demote the last admin', async () => {
    // A separate server: this one's users table already holds admins from other tests.
    const solo = await startApp();
    try {
      const admin = await solo.signedIn(uniqueEmail('admin'), { role: 'admin' });
      const id = (await admin.query('auth.me')).data.user.id;
      const r = await admin.mutation('admin.setRole', { userId: id, role: 'user' });
      expect(r.status).toBe(409);
      expect((await admin.query('admin.listUsers')).status).toBe(200);
    } finally {
      await solo.stop();
    }
  });
});
