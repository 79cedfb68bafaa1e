/**
 * admin.setDisabled and `users disable|enable` over real HTTP: a disabled account's open tabs are
 * signed out at once (the session-ended stream says why), on every instance; its sign-in is refused
 * with a clear message only after the correct password (a wrong one gets the generic answer), at
 * every step of signing in; enabling it again lets it sign in. Embedded store, then two instances
 * on PostgreSQL + Redis with the CLI beside them.
 */
import { createTestDatabase, startRedis, type TestDatabase, type TestRedis } from '@tessera/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SYSTEM } from '../src/audit/actor.js';
import type { AuditEvent } from '../src/audit/events.js';
import { totpCode } from '../src/auth/totp.js';
import { runCli } from '../src/cli.js';
import { parseEnv } from '../src/env.js';
import { createContextInner } from '../src/trpc/context.js';
import { LastAdminError, setAccountDisabled } from '../src/trpc/routers/admin.js';
import { issueSession } from '../src/trpc/sign-in.js';
import { PASSWORD, startApp, TEST_ARGON2, type TestApp, uniqueEmail } from './helpers/app.js';
import type { HttpClient } from './helpers/http.js';
import { subscribeSessionEnded } from './helpers/sse.js';

const DISABLED_MESSAGE = 'This account is disabled. Contact your administrator.';
const STEP = 30_000;

async function events(app: TestApp, userId: string): Promise<AuditEvent[]> {
  await app.runtime.deps.audit.flush();
  return (await app.runtime.deps.audit.list({ userId, limit: 100 })).events;
}

/** A fresh admin session (admin mutations need one) and a user with `devices` signed-in clients. */
async function setUp(app: TestApp, devices = 2) {
  const admin = await app.signedIn(uniqueEmail('admin'), { role: 'admin' });
  const email = uniqueEmail();
  const user = await app.createUser(email);
  const clients: HttpClient[] = [];
  for (let i = 0; i < devices; i++) {
    const c = app.client();
    expect((await c.mutation('auth.login', { email, password: PASSWORD })).status).toBe(200);
    clients.push(c);
  }
  return { admin, email, userId: user.id, clients };
}

describe('disabling an account (embedded)', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startApp();
  });
  afterAll(async () => {
    await app?.stop();
  });

  it('ends every session at once: the open tab hears why, the next request is 401 account_disabled', async () => {
    const { admin, userId, clients } = await setUp(app);
    const stream = await subscribeSessionEnded(clients[0]!);
    try {
      const r = await admin.mutation('admin.setDisabled', { userId, disabled: true });
      expect(r.status, JSON.stringify(r.error)).toBe(200);
      expect(r.data.sessionsEnded).toBe(2);
      expect(r.data.user).toMatchObject({ id: userId, disabled: true, disabledAt: expect.any(Number) });
      expect(await stream.next()).toMatchObject({ reason: 'account_disabled' });
    } finally {
      stream.close();
    }
    for (const c of clients) {
      const me = await c.query('auth.me');
      expect(me.status).toBe(401);
      expect(me.error?.data.reason).toBe('account_disabled');
    }
    const recorded = await events(app, userId);
    const adminId = (await admin.query('auth.me')).data.user.id;
    expect(recorded.find((e) => e.type === 'account_disabled')).toMatchObject({
      actor: { kind: 'admin', userId: adminId },
    });
    const ended = recorded.filter((e) => e.type === 'session_ended');
    expect(ended).toHaveLength(2);
    for (const e of ended) expect(e).toMatchObject({ reason: 'account_disabled', actor: { kind: 'admin' } });
    expect((await admin.query('admin.getUser', { userId })).data.user.disabled).toBe(true);
    expect(
      (
        await admin.query('admin.listUsers', {
          query: (await app.runtime.deps.users.findById(userId))!.email,
        })
      ).data.users,
    ).toEqual([expect.objectContaining({ id: userId, disabled: true })]);
  });

  it('refuses sign-in with the message only after the correct password; a wrong one is generic', async () => {
    const { admin, email, userId } = await setUp(app, 0);
    expect((await admin.mutation('admin.setDisabled', { userId, disabled: true })).status).toBe(200);

    const wrong = await app.client().mutation('auth.login', { email, password: `${PASSWORD}x` });
    const unknown = await app.client().mutation('auth.login', { email: uniqueEmail(), password: PASSWORD });
    for (const r of [wrong, unknown]) {
      expect(r.status).toBe(401);
      expect(r.error?.data.reason).toBe('invalid_credentials');
      expect(r.error?.message).toBe('Invalid email or password');
    }

    const c = app.client();
    const right = await c.mutation('auth.login', { email, password: PASSWORD });
    expect(right.status).toBe(403);
    expect(right.error?.data.reason).toBe('account_disabled');
    expect(right.error?.message).toBe(DISABLED_MESSAGE);
    expect(c.sessionToken).toBeUndefined();
    expect((await admin.query('admin.getUser', { userId })).data.sessions).toEqual([]);

    const recorded = await events(app, userId);
    const failures = recorded.filter((e) => e.type === 'sign_in_failed');
    expect(failures.map((e) => e.reason).sort()).toEqual(['account_disabled', 'password']);
    // Refused before any session was made (not made, then ended by issueSession's re-read).
    expect(recorded.filter((e) => e.type === 'session_ended')).toEqual([]);
  });

  it('enabling lets the account sign in again', async () => {
    const { admin, email, userId } = await setUp(app, 0);
    expect((await admin.mutation('admin.setDisabled', { userId, disabled: true })).status).toBe(200);
    const r = await admin.mutation('admin.setDisabled', { userId, disabled: false });
    expect(r.status).toBe(200);
    expect(r.data).toEqual({
      user: expect.objectContaining({ id: userId, disabled: false, disabledAt: null }),
      sessionsEnded: 0,
    });
    expect((await app.client().mutation('auth.login', { email, password: PASSWORD })).status).toBe(200);
    expect((await events(app, userId)).map((e) => e.type)).toEqual(
      expect.arrayContaining(['account_disabled', 'account_enabled', 'sign_in']),
    );
  });

  it('refuses at the MFA step when the account was disabled after the password', async () => {
    const { admin, email, userId, clients } = await setUp(app, 1);
    const c = clients[0]!;
    const { secret } = (await c.mutation('mfa.beginEnrollment')).data;
    expect(
      (await c.mutation('mfa.confirmEnrollment', { code: totpCode(secret, Date.now() - STEP) })).status,
    ).toBe(200);
    const signingIn = app.client();
    expect((await signingIn.mutation('auth.login', { email, password: PASSWORD })).data.status).toBe(
      'mfa_required',
    );
    expect((await admin.mutation('admin.setDisabled', { userId, disabled: true })).status).toBe(200);
    const r = await signingIn.mutation('auth.verifyMfa', { code: totpCode(secret) });
    expect(r.status).toBe(403);
    expect(r.error?.data.reason).toBe('account_disabled');
    expect(signingIn.sessionToken).toBeUndefined();
    // The challenge is gone with it.
    expect((await signingIn.mutation('auth.verifyMfa', { code: totpCode(secret) })).status).toBe(401);
    // With MFA on, a disabled account is refused after the password too (no code asked for).
    const again = await app.client().mutation('auth.login', { email, password: PASSWORD });
    expect(again.status).toBe(403);
    expect(again.error?.data.reason).toBe('account_disabled');
  });

  it('a sign-in that read the account before it was disabled gets no session (issueSession re-reads)', async () => {
    const { admin, email, userId } = await setUp(app, 0);
    const before = (await app.runtime.deps.users.findByEmail(email))!;
    expect((await admin.mutation('admin.setDisabled', { userId, disabled: true })).status).toBe(200);
    const ctx = createContextInner({ deps: app.runtime.deps });
    const error = await issueSession(ctx, before, {
      authAt: Date.now(),
      mfa: false,
      passwordChangedAt: before.passwordChangedAt,
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'FORBIDDEN', cause: { reason: 'account_disabled' } });
    expect(ctx.auth.session).toBeNull();
    expect(await app.runtime.deps.sessions.list(userId)).toEqual([]);
    const ended = (await events(app, userId)).filter((e) => e.type === 'session_ended');
    expect(ended).toEqual([expect.objectContaining({ reason: 'account_disabled' })]);
  });

  it('refuses a session-limit ticket of a disabled account', async () => {
    const limited = await startApp({ env: { SESSION_MAX_PER_USER: '1', SESSION_LIMIT_POLICY: 'reject' } });
    try {
      const { admin, email, userId, clients } = await setUp(limited, 1);
      const conflict = await limited.client().mutation('auth.login', { email, password: PASSWORD });
      expect(conflict.status).toBe(409);
      const { ticket, sessions } = conflict.error!.data.sessionLimit;
      expect((await admin.mutation('admin.setDisabled', { userId, disabled: true })).status).toBe(200);
      const r = await limited
        .client()
        .mutation('auth.resolveSessionLimit', { ticket, revokeSessionId: sessions[0].id });
      expect(r.status).toBe(403);
      expect(r.error?.data.reason).toBe('account_disabled');
      expect((await clients[0]!.query('auth.me')).status).toBe(401);
    } finally {
      await limited.stop();
    }
  });

  it('refuses to disable yourself or the last enabled administrator (CONFLICT)', async () => {
    const solo = await startApp();
    try {
      const admin = await solo.signedIn(uniqueEmail('admin'), { role: 'admin' });
      const adminId = (await admin.query('auth.me')).data.user.id;
      const self = await admin.mutation('admin.setDisabled', { userId: adminId, disabled: true });
      expect(self.status).toBe(409);
      expect((await admin.query('auth.me')).status).toBe(200);
      // The CLI (actor: the system) can name any account: the last enabled admin stays enabled.
      const target = (await solo.runtime.deps.users.findById(adminId))!;
      await expect(
        setAccountDisabled(solo.runtime.deps, { target, disabled: true, actor: SYSTEM }),
      ).rejects.toBeInstanceOf(LastAdminError);
      expect((await admin.query('auth.me')).status).toBe(200);
      expect((await admin.mutation('admin.setDisabled', { userId: 'nope', disabled: true })).status).toBe(
        404,
      );
    } finally {
      await solo.stop();
    }
  });

  it('is admin + fresh: a user is refused', async () => {
    const { userId, clients } = await setUp(app, 1);
    const r = await clients[0]!.mutation('admin.setDisabled', { userId, disabled: true });
    expect(r.status).toBe(403);
    expect(r.error?.data.reason).toBe('admin_required');
  });
});

describe('disabling on one instance signs out on every instance (PostgreSQL + Redis), and the CLI', () => {
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

  it('admin.setDisabled on A: the tab open on B hears account_disabled', async () => {
    const admin = await a.signedIn(uniqueEmail('admin'), { role: 'admin' });
    const email = uniqueEmail();
    const user = await b.signedIn(email);
    const userId = (await user.query('auth.me')).data.user.id;
    const stream = await subscribeSessionEnded(user);
    try {
      expect((await admin.mutation('admin.setDisabled', { userId, disabled: true })).status).toBe(200);
      expect(await stream.next()).toMatchObject({ reason: 'account_disabled' });
    } finally {
      stream.close();
    }
    expect((await user.query('auth.me')).error?.data.reason).toBe('account_disabled');
    const r = await b.client().mutation('auth.login', { email, password: PASSWORD });
    expect(r.error?.data.reason).toBe('account_disabled');
  });

  it('users disable / enable / audit tail: the same effects, the system as actor', async () => {
    const config = parseEnv({
      NODE_ENV: 'test',
      LOG_LEVEL: 'silent',
      DATABASE_URL: db.url,
      REDIS_URL: redis.url,
    });
    const cli = async (argv: string[]) => {
      const out: string[] = [];
      const err: string[] = [];
      const code = await runCli(
        argv,
        config,
        { out: (l) => out.push(l), err: (l) => err.push(l) },
        { argon2: TEST_ARGON2 },
      );
      return { code, out, err };
    };
    const email = uniqueEmail();
    const user = await a.signedIn(email, {});
    const userId = (await user.query('auth.me')).data.user.id;
    const stream = await subscribeSessionEnded(user);
    try {
      expect(await cli(['users', 'disable', '--email', email])).toMatchObject({
        code: 0,
        out: [`${email} is disabled (1 session ended)`],
      });
      expect(await stream.next()).toMatchObject({ reason: 'account_disabled' });
    } finally {
      stream.close();
    }
    expect((await a.client().mutation('auth.login', { email, password: PASSWORD })).status).toBe(403);
    expect((await cli(['users', 'list'])).out.find((l) => l.endsWith(email))).toMatch(/ disabled /);
    expect(await cli(['users', 'enable', '--email', email])).toMatchObject({
      code: 0,
      out: [`${email} is enabled`],
    });
    expect((await a.client().mutation('auth.login', { email, password: PASSWORD })).status).toBe(200);

    const recorded = await events(a, userId);
    expect(recorded.find((e) => e.type === 'account_disabled')?.actor.kind).toBe('system');
    expect(recorded.find((e) => e.type === 'account_enabled')?.actor.kind).toBe('system');
    await a.runtime.deps.audit.flush();
    const tail = await cli(['audit', 'tail', '--email', email, '--limit', '50']);
    expect(tail.code).toBe(0);
    const lines = tail.out.slice(0, -1);
    // Newest last: the sign-in after enabling.
    expect(lines.at(-1)).toMatch(new RegExp(`^\\S+Z  sign_in  -  ${email.replace(/\./g, '\\.')}  self  `));
    expect(lines.some((l) => / {2}account_disabled {2}- {2}.* {2}system {2}- {2}-$/.test(l))).toBe(true);
    expect(lines.some((l) => / session_ended {2}account_disabled {2}.* system /.test(l))).toBe(true);
    expect(lines.some((l) => / sign_in_failed {2}account_disabled /.test(l))).toBe(true);
    expect(tail.out.at(-1)).toBe(`${lines.length} events`);
    expect((await cli(['audit', 'tail', '--limit', '0'])).code).toBe(1);
    expect((await cli(['audit', 'tail', '--email', 'nobody@example.com'])).code).toBe(1);
    expect((await cli(['audit', 'tail', '--limit', '2'])).out).toHaveLength(3);
  });
});
