/** sessions.* over real HTTP, embedded store: listing, revoking, the per-user limit (evict-oldest). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD, startApp, type TestApp, uniqueEmail } from './helpers/app.js';

let app: TestApp;
beforeAll(async () => {
  app = await startApp();
});
afterAll(async () => {
  await app?.stop();
});

const CHROME_MAC =
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36';
const SAFARI_IPHONE =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1';

async function twoSessions() {
  const email = uniqueEmail();
  await app.createUser(email);
  const desktop = app.client({ 'user-agent': CHROME_MAC });
  const phone = app.client({ 'user-agent': SAFARI_IPHONE });
  for (const c of [desktop, phone])
    expect((await c.mutation('auth.login', { email, password: PASSWORD })).status).toBe(200);
  return { email, desktop, phone };
}

describe('sessions.list', () => {
  it('lists every live session with parsed user agents, marks the current one, shows no token', async () => {
    const { desktop, phone } = await twoSessions();
    const r = await desktop.query('sessions.list');
    expect(r.status).toBe(200);
    expect(r.data).toHaveLength(2);
    const [first, second] = r.data;
    expect(first).toMatchObject({
      current: true,
      browser: 'Chrome 126',
      os: 'macOS 10.15.7',
      device: 'desktop',
    });
    expect(second).toMatchObject({
      current: false,
      browser: 'Mobile Safari 17',
      os: 'iOS 17.5',
      device: 'mobile',
    });
    for (const s of r.data) {
      expect(Object.keys(s).sort()).toEqual(
        [
          'absoluteExpiresAt',
          'browser',
          'createdAt',
          'current',
          'device',
          'deviceBoundAt',
          'id',
          'idleExpiresAt',
          'ip',
          'lastActivityAt',
          'os',
          'userAgent',
        ].sort(),
      );
      expect(s.ip).toBe('127.0.0.1');
    }
    const body = JSON.stringify(r.data);
    expect(body).not.toContain(desktop.sessionToken!.split('.')[1]);
    expect(body).not.toContain(phone.sessionToken!.split('.')[1]);
    expect(
      (await phone.query('sessions.list')).data.filter((s: { current: boolean }) => s.current)[0].id,
    ).toBe(second.id);
  });
});

describe('sessions.revoke', () => {
  it('ends another session of mine: rejected on its very next request', async () => {
    const { desktop, phone } = await twoSessions();
    const phoneId = phone.sessionToken!.slice(0, 26);
    const r = await desktop.mutation('sessions.revoke', { sessionId: phoneId });
    expect(r.status).toBe(200);
    expect(r.data).toEqual({ revoked: true });
    const me = await phone.query('auth.me');
    expect(me.status).toBe(401);
    expect(me.error?.data.reason).toBe('revoked');
    expect((await desktop.query('sessions.list')).data).toHaveLength(1);
  });

  it('refuses the current session (use logout)', async () => {
    const { desktop } = await twoSessions();
    const r = await desktop.mutation('sessions.revoke', { sessionId: desktop.sessionToken!.slice(0, 26) });
    expect(r.status).toBe(400);
    expect((await desktop.query('auth.me')).status).toBe(200);
  });

  it("answers NOT_FOUND for another user's session and for unknown ids", async () => {
    const mine = await twoSessions();
    const theirs = await twoSessions();
    const theirId = theirs.phone.sessionToken!.slice(0, 26);
    for (const sessionId of [theirId, 'x'.repeat(26), 'short']) {
      const r = await mine.desktop.mutation('sessions.revoke', { sessionId });
      expect(r.status).toBe(404);
    }
    expect((await theirs.phone.query('auth.me')).status).toBe(200);
  });

  it('needs a fresh session', async () => {
    const { desktop, phone } = await twoSessions();
    await app.runtime.deps.sessions.patch(desktop.sessionToken!, { authAt: 0 });
    const r = await desktop.mutation('sessions.revoke', { sessionId: phone.sessionToken!.slice(0, 26) });
    expect(r.status).toBe(403);
    expect(r.error?.data.reason).toBe('reauthentication_required');
    expect((await phone.query('auth.me')).status).toBe(200);
  });
});

describe('sessions.revokeOthers', () => {
  it('ends every other session and returns how many', async () => {
    const { email, desktop, phone } = await twoSessions();
    const third = app.client();
    await third.mutation('auth.login', { email, password: PASSWORD });
    const r = await desktop.mutation('sessions.revokeOthers');
    expect(r.data).toEqual({ revoked: 2 });
    for (const c of [phone, third]) expect((await c.query('auth.me')).error?.data.reason).toBe('revoked');
    expect((await desktop.query('auth.me')).status).toBe(200);
  });
});

describe('per-user limit (evict-oldest, max 3)', () => {
  it('a fourth sign-in ends the least recently active session', async () => {
    const email = uniqueEmail();
    await app.createUser(email);
    const clients = [app.client(), app.client(), app.client()];
    for (const c of clients) await c.mutation('auth.login', { email, password: PASSWORD });
    // Make clients[1] the least recently active.
    await clients[0]!.mutation('auth.ping');
    await clients[2]!.mutation('auth.ping');
    const fourth = app.client();
    expect((await fourth.mutation('auth.login', { email, password: PASSWORD })).status).toBe(200);
    const evicted = await clients[1]!.query('auth.me');
    expect(evicted.status).toBe(401);
    expect(evicted.error?.data.reason).toBe('evicted');
    for (const c of [clients[0]!, clients[2]!, fourth]) expect((await c.query('auth.me')).status).toBe(200);
  });
});
