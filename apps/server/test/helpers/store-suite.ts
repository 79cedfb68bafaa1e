/**
 * The behaviour every session store must give the server, run over real HTTP against each backend
 * (embedded PGlite, PostgreSQL, Redis): sign-in/out, fixation, rotation on password and role change,
 * the per-user limit under 50 parallel logins with both policies, idle and absolute timeouts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  expectSessionCookie,
  PASSWORD,
  type StartOptions,
  sleep,
  startApp,
  type TestApp,
  uniqueEmail,
} from './app.js';
import type { HttpClient } from './http.js';

export interface Backend {
  /** Options that point an app at this backend (each call may return a new isolated location). */
  options(): Promise<StartOptions>;
  cleanup?(): Promise<void>;
}

export function storeSuite(name: string, backend: Backend) {
  describe(`${name}: session store behaviour over HTTP`, () => {
    let app: TestApp;
    let reject: TestApp;
    let short: TestApp;
    beforeAll(async () => {
      const [a, b, c] = await Promise.all([backend.options(), backend.options(), backend.options()]);
      [app, reject, short] = await Promise.all([
        startApp(a),
        startApp({ ...b, env: { ...b.env, SESSION_LIMIT_POLICY: 'reject' } }),
        startApp({ ...c, env: { ...c.env, SESSION_IDLE_TIMEOUT: '1s', SESSION_ABSOLUTE_TIMEOUT: '3s' } }),
      ]);
    });
    afterAll(async () => {
      await Promise.all([app?.stop(), reject?.stop(), short?.stop()]);
      await backend.cleanup?.();
    });

    it('login, me, logout: cookie set and cleared, old token dead', async () => {
      const email = uniqueEmail();
      await app.createUser(email);
      const c = app.client();
      const login = await c.mutation('auth.login', { email, password: PASSWORD });
      expectSessionCookie(login.setCookies[0]);
      expect((await c.query('auth.me')).data.user.email).toBe(email);
      const token = c.sessionToken!;
      const logout = await c.mutation('auth.logout');
      expectSessionCookie(logout.setCookies[0], { cleared: true });
      const replay = app.client();
      replay.jar.set('__Host-tessera', token);
      expect((await replay.query('auth.me')).error?.data.reason).toBe('logged_out');
    });

    it('fixation: a planted session is destroyed by the login, never adopted', async () => {
      const planted = (await app.signedIn(uniqueEmail('attacker'))).sessionToken!;
      const email = uniqueEmail('victim');
      await app.createUser(email);
      const victim = app.client();
      victim.jar.set('__Host-tessera', planted);
      await victim.mutation('auth.login', { email, password: PASSWORD });
      expect(victim.sessionToken).not.toBe(planted);
      const attacker = app.client();
      attacker.jar.set('__Host-tessera', planted);
      expect((await attacker.query('auth.me')).status).toBe(401);
    });

    it('password change rotates this session and ends the others', async () => {
      const email = uniqueEmail();
      const c = await app.signedIn(email);
      const other = app.client();
      await other.mutation('auth.login', { email, password: PASSWORD });
      const before = c.sessionToken!;
      const r = await c.mutation('auth.changePassword', {
        currentPassword: PASSWORD,
        newPassword: 'a different long passphrase',
      });
      expect(r.data).toEqual({ revoked: 1 });
      expect(expectSessionCookie(r.setCookies.at(-1)).value).not.toBe(before);
      expect((await c.query('auth.me')).status).toBe(200);
      expect((await other.query('auth.me')).error?.data.reason).toBe('password_changed');
    });

    it('role change rotates the session on its next request and applies at once', async () => {
      const admin = await app.signedIn(uniqueEmail('admin'), { role: 'admin' });
      const user = await app.signedIn(uniqueEmail());
      const id = (await user.query('auth.me')).data.user.id;
      const before = user.sessionToken!;
      expect(
        (await admin.mutation('admin.setRole', { userId: id, role: 'admin' })).data.sessionsUpdated,
      ).toBe(1);
      const next = await user.query('admin.listUsers');
      expect(next.status).toBe(200);
      expect(expectSessionCookie(next.setCookies[0]).value).not.toBe(before);
      expect((await admin.mutation('admin.setRole', { userId: id, role: 'user' })).status).toBe(200);
      expect((await user.query('admin.listUsers')).status).toBe(403);
    });

    it('evict-oldest: 50 parallel logins of one user leave exactly 3 live sessions', async () => {
      const email = uniqueEmail('crowd');
      await app.createUser(email);
      const clients = Array.from({ length: 50 }, () => app.client());
      const results = await Promise.all(
        clients.map((c) => c.mutation('auth.login', { email, password: PASSWORD })),
      );
      expect(results.map((r) => r.status)).toEqual(Array(50).fill(200));
      const alive = await Promise.all(clients.map(async (c) => (await c.query('auth.me')).status === 200));
      expect(alive.filter(Boolean)).toHaveLength(3);
      const someone = clients[alive.indexOf(true)]!;
      expect((await someone.query('sessions.list')).data).toHaveLength(3);
    });

    it('reject: 50 parallel logins give 3 sessions and 47 CONFLICTs with a ticket; a ticket resolves once', async () => {
      const email = uniqueEmail('crowd');
      await reject.createUser(email);
      const clients = Array.from({ length: 50 }, () => reject.client());
      const results = await Promise.all(
        clients.map((c) => c.mutation('auth.login', { email, password: PASSWORD })),
      );
      const ok = results.filter((r) => r.status === 200);
      const conflicts = results.filter((r) => r.status === 409);
      expect(ok).toHaveLength(3);
      expect(conflicts).toHaveLength(47);
      for (const r of conflicts) {
        expect(r.setCookies).toEqual([]);
        const limit = r.error?.data.sessionLimit;
        expect(limit.limit).toBe(3);
        expect(limit.sessions).toHaveLength(3);
        expect(limit.ticket).toMatch(/^[A-Za-z0-9_-]{43}$/);
        expect(Object.keys(limit.sessions[0]).sort()).toEqual(
          ['browser', 'createdAt', 'device', 'id', 'ip', 'lastActivityAt', 'os', 'userAgent'].sort(),
        );
      }
      const signedIn = clients.filter((c) => c.sessionToken) as HttpClient[];
      expect(signedIn).toHaveLength(3);
      const victimId = signedIn[0]!.sessionToken!.slice(0, 26);
      const chooser = clients[results.indexOf(conflicts[0]!)]!;
      const { ticket } = conflicts[0]!.error!.data.sessionLimit;
      const resolved = await chooser.mutation('auth.resolveSessionLimit', {
        ticket,
        revokeSessionId: victimId,
      });
      expect(resolved.status).toBe(200);
      expect(resolved.data).toMatchObject({ status: 'signed_in', user: { email } });
      expectSessionCookie(resolved.setCookies.at(-1));
      expect((await signedIn[0]!.query('auth.me')).error?.data.reason).toBe('revoked');
      expect((await chooser.query('sessions.list')).data).toHaveLength(3);
      const again = await reject
        .client()
        .mutation('auth.resolveSessionLimit', { ticket, revokeSessionId: victimId });
      expect(again.status).toBe(401);
      expect(again.error?.data.reason).toBe('ticket_invalid');
    });

    it('idle timeout (SESSION_IDLE_TIMEOUT=1s): the session ends after 1 s without requests', async () => {
      const c = await short.signedIn(uniqueEmail());
      await sleep(1_150);
      const r = await c.query('auth.me');
      expect(r.status).toBe(401);
      expect(r.error?.data.reason).toBe('idle_timeout');
      expectSessionCookie(r.setCookies[0], { cleared: true });
    });

    it('absolute timeout (SESSION_ABSOLUTE_TIMEOUT=3s): activity does not extend it', async () => {
      const c = await short.signedIn(uniqueEmail());
      const { absoluteExpiresAt } = (await c.query('auth.me')).data.session;
      while (Date.now() < absoluteExpiresAt - 500) {
        await sleep(300);
        const ping = await c.mutation('auth.ping');
        expect(ping.status).toBe(200);
        expect(ping.data.absoluteExpiresAt).toBe(absoluteExpiresAt);
      }
      await sleep(Math.max(0, absoluteExpiresAt - Date.now()) + 50);
      const r = await c.query('auth.me');
      expect(r.status).toBe(401);
      expect(r.error?.data.reason).toBe('absolute_timeout');
    });
  });
}
