/**
 * The audit trail as compose.ts wires it: every session that ends becomes a `session_ended` event
 * with its reason and who ended it (self, another of the user's sessions, an administrator, the
 * system), whatever ends it and whichever store holds sessions; the request path (auth.me) records
 * nothing; close() writes what is queued before the database closes; the sweep prunes.
 */
import { rmSync } from 'node:fs';
import { createTestDatabase, startRedis, type TestDatabase, type TestRedis } from '@tessera/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ActingContext, SYSTEM } from '../src/audit/actor.js';
import { attribute } from '../src/audit/attribution.js';
import type { AuditEvent, AuditEventType } from '../src/audit/events.js';
import { actingAs, audit } from '../src/trpc/audit.js';
import { createContextInner } from '../src/trpc/context.js';
import { freshDataDir, PASSWORD, startApp, type TestApp, uniqueEmail } from './helpers/app.js';
import { waitFor } from './helpers/load.js';

const MINUTE = 60_000;
const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0';
const SAFARI_IPHONE =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1';

/** A user's events of some types, newest first, after writing what is queued. */
async function eventsOf(app: TestApp, userId: string, types?: AuditEventType[]): Promise<AuditEvent[]> {
  const { audit } = app.runtime.deps;
  await audit.flush();
  return (await audit.list({ userId, ...(types ? { types } : {}), limit: 100 })).events;
}
const endedOf = (app: TestApp, userId: string) => eventsOf(app, userId, ['session_ended']);

async function signIn(app: TestApp, email: string, userAgent = FIREFOX) {
  const client = app.client({ 'user-agent': userAgent });
  const r = await client.mutation('auth.login', { email, password: PASSWORD });
  expect(r.status, JSON.stringify(r.error)).toBe(200);
  const me = await client.query('auth.me');
  return { client, userId: me.data.user.id as string, sessionId: me.data.session.id as string };
}

describe('embedded database (PGlite), sessions in it too', () => {
  let app: TestApp;
  let now = Date.now();
  beforeAll(async () => {
    app = await startApp({
      env: { SESSION_IDLE_TIMEOUT: '30m', SESSION_ABSOLUTE_TIMEOUT: '1h', SESSION_MAX_PER_USER: '3' },
      compose: { clock: () => now },
    });
  });
  afterAll(async () => {
    await app?.stop();
  });

  it('a logout: the session itself ended it (self), reason logged_out', async () => {
    const email = uniqueEmail('logout');
    await app.createUser(email);
    const { client, userId, sessionId } = await signIn(app, email);
    expect((await client.mutation('auth.logout')).status).toBe(200);
    const [ended, ...more] = await endedOf(app, userId);
    expect(more).toEqual([]);
    expect(ended).toMatchObject({
      type: 'session_ended',
      userId,
      sessionId,
      reason: 'logged_out',
      actor: { kind: 'self', userId, sessionId },
      at: now,
    });
  });

  it('sessions.revoke from another device: that session (session), with its IP and browser', async () => {
    const email = uniqueEmail('revoke');
    await app.createUser(email);
    const desktop = await signIn(app, email, FIREFOX);
    const phone = await signIn(app, email, SAFARI_IPHONE);
    const r = await desktop.client.mutation('sessions.revoke', { sessionId: phone.sessionId });
    expect(r.status, JSON.stringify(r.error)).toBe(200);
    const [ended, ...more] = await endedOf(app, desktop.userId);
    expect(more).toEqual([]);
    expect(ended).toMatchObject({
      sessionId: phone.sessionId,
      reason: 'revoked',
      actor: { kind: 'session', userId: desktop.userId, sessionId: desktop.sessionId },
      ip: '127.0.0.1',
      userAgent: FIREFOX,
    });
  });

  it('a password change ends the others: each recorded as ended by the session that changed it', async () => {
    const email = uniqueEmail('pwchange');
    await app.createUser(email);
    const [a, b, c] = [await signIn(app, email), await signIn(app, email), await signIn(app, email)];
    const acting: ActingContext = {
      kind: 'self',
      userId: a.userId,
      sessionId: a.sessionId,
      ip: '198.51.100.4',
      userAgent: FIREFOX,
    };
    const revoked = await app.runtime.deps.sessions.revokeAll(a.userId, {
      except: a.sessionId,
      reason: 'password_changed',
      context: acting,
    });
    expect(revoked).toBe(2);
    const ended = await endedOf(app, a.userId);
    expect(ended.map((e) => e.sessionId).sort()).toEqual([b.sessionId, c.sessionId].sort());
    for (const e of ended) {
      expect(e).toMatchObject({
        reason: 'password_changed',
        actor: { kind: 'session', userId: a.userId, sessionId: a.sessionId },
        ip: '198.51.100.4',
        userAgent: FIREFOX,
      });
    }
  });

  it("an administrator ending a user's sessions (revokeUserSessions): admin, for each session", async () => {
    const email = uniqueEmail('victim');
    await app.createUser(email);
    const bossEmail = uniqueEmail('boss');
    await app.createUser(bossEmail, { role: 'admin' });
    const boss = await signIn(app, bossEmail);
    const [one, two] = [await signIn(app, email), await signIn(app, email)];
    // The same call admin.revokeUserSessions makes, the way procedures make it.
    const ctx = createContextInner({
      deps: app.runtime.deps,
      session: (await app.runtime.deps.sessions.list(boss.userId))[0]!,
      token: 'unused',
      meta: { ip: '192.0.2.9', userAgent: FIREFOX },
    });
    await app.runtime.deps.sessions.revokeAll(one.userId, { context: actingAs(ctx) });
    const ended = await endedOf(app, one.userId);
    expect(ended.map((e) => e.sessionId).sort()).toEqual([one.sessionId, two.sessionId].sort());
    for (const e of ended) {
      expect(e).toMatchObject({
        reason: 'revoked',
        actor: { kind: 'admin', userId: boss.userId, sessionId: boss.sessionId },
        ip: '192.0.2.9',
      });
    }
    // Nothing recorded against the administrator's own account.
    expect(await endedOf(app, boss.userId)).toEqual([]);
  });

  it('an idle timeout, recorded when the server sees the dead session: the system, no IP', async () => {
    const email = uniqueEmail('idle');
    await app.createUser(email);
    const { client, userId, sessionId } = await signIn(app, email);
    now += 31 * MINUTE;
    const r = await client.query('auth.me');
    expect(r.error?.data.reason).toBe('idle_timeout');
    const [ended, ...more] = await endedOf(app, userId);
    expect(more).toEqual([]);
    expect(ended).toMatchObject({
      sessionId,
      reason: 'idle_timeout',
      actor: SYSTEM,
      ip: null,
      userAgent: null,
      at: now,
    });
  });

  it('an absolute timeout: the system', async () => {
    const email = uniqueEmail('absolute');
    await app.createUser(email);
    const { client, userId, sessionId } = await signIn(app, email);
    for (const step of [25, 25]) {
      now += step * MINUTE;
      expect((await client.mutation('auth.ping')).status).toBe(200);
    }
    now += 11 * MINUTE; // 61 min after sign-in, 11 since the last request
    expect((await client.query('auth.me')).error?.data.reason).toBe('absolute_timeout');
    const ended = await endedOf(app, userId);
    expect(ended.map((e) => [e.sessionId, e.reason, e.actor.kind])).toEqual([
      [sessionId, 'absolute_timeout', 'system'],
    ]);
  });

  it('the session limit evicting the oldest: the system', async () => {
    const email = uniqueEmail('evict');
    await app.createUser(email);
    const first = await signIn(app, email);
    for (let i = 0; i < 3; i++) {
      now += 1_000; // the clock is the test's: one second apart, so "oldest" is the first
      await signIn(app, email);
    }
    const ended = await endedOf(app, first.userId);
    expect(ended.map((e) => [e.sessionId, e.reason, e.actor.kind])).toEqual([
      [first.sessionId, 'evicted', 'system'],
    ]);
  });

  it('auth.me records nothing; a session created or rotated is not a session_ended', async () => {
    const email = uniqueEmail('quiet');
    await app.createUser(email);
    const { client, userId } = await signIn(app, email);
    expect((await client.mutation('auth.reauthenticate', { password: PASSWORD })).status).toBe(200);
    const before = await eventsOf(app, userId);
    expect(before.filter((e) => e.type === 'session_ended')).toEqual([]);
    for (let i = 0; i < 20; i++) expect((await client.query('auth.me')).status).toBe(200);
    expect(await eventsOf(app, userId)).toEqual(before);
  });

  it('trpc/audit.ts: the request IP and User-Agent, and the actor as the account concerned sees it', async () => {
    const bossEmail = uniqueEmail('boss2');
    await app.createUser(bossEmail, { role: 'admin' });
    const boss = await signIn(app, bossEmail);
    const target = await app.createUser(uniqueEmail('target'));
    const session = (await app.runtime.deps.sessions.list(boss.userId))[0]!;
    const meta = { ip: '192.0.2.10', userAgent: FIREFOX };
    const ctx = createContextInner({ deps: app.runtime.deps, session, token: 'unused', meta });
    audit(ctx, { type: 'role_changed', userId: target.id, detail: { from: 'user', to: 'admin' } });
    audit(ctx, { type: 'mfa_enabled', userId: boss.userId, sessionId: boss.sessionId });
    // A failed sign-in to another account from a browser still signed in as the admin: the person
    // signing in, not "an administrator".
    audit(ctx, { type: 'sign_in_failed', userId: target.id, reason: 'password' });
    // No session at all (a sign-in to an unknown email).
    audit(createContextInner({ deps: app.runtime.deps, meta }), {
      type: 'sign_in_failed',
      userId: null,
      reason: 'password',
    });
    const [failed, roleChanged] = await eventsOf(app, target.id);
    expect(roleChanged).toMatchObject({
      type: 'role_changed',
      actor: { kind: 'admin', userId: boss.userId, sessionId: boss.sessionId },
      ...meta,
      detail: { from: 'user', to: 'admin' },
    });
    expect(failed).toMatchObject({
      type: 'sign_in_failed',
      actor: { kind: 'self', userId: target.id },
      ...meta,
    });
    const [mfa] = await eventsOf(app, boss.userId, ['mfa_enabled']);
    expect(mfa).toMatchObject({ actor: { kind: 'self', userId: boss.userId, sessionId: boss.sessionId } });
    const anonymous = (
      await app.runtime.deps.audit.list({ types: ['sign_in_failed'], limit: 100 })
    ).events.find((e) => e.userId === null);
    expect(anonymous).toMatchObject({ actor: { kind: 'self', userId: null, sessionId: null }, ...meta });
  });
});

describe('attribution', () => {
  const session = { userId: 'u1', sessionId: 's1' };
  it.each([
    [{ kind: 'self', userId: 'u1', sessionId: 's1' }, 'self'],
    [{ kind: 'self', userId: 'u1', sessionId: 's2' }, 'session'],
    [{ kind: 'self', userId: 'u2', sessionId: 's9' }, 'admin'],
    [{ kind: 'admin', userId: 'u1', sessionId: 's2' }, 'session'],
    [{ kind: 'admin', userId: null, sessionId: null }, 'admin'],
    [{ kind: 'system', userId: 'u1', sessionId: 's1' }, 'system'],
  ] as const)('%o ending s1 of u1 is %s', (acting, kind) => {
    expect(attribute(acting, session).kind).toBe(kind);
  });
});

describe('close() writes what is queued before the database closes', () => {
  it('an event recorded just before stopping is there after a restart', async () => {
    const dataDir = freshDataDir();
    try {
      const first = await startApp({ dataDir });
      first.runtime.deps.audit.record({
        type: 'account_disabled',
        userId: 'someone',
        actor: SYSTEM,
        ip: null,
        userAgent: null,
        sessionId: null,
        reason: null,
      });
      await first.stop(); // no flush: the timer has not fired yet
      const second = await startApp({ dataDir });
      try {
        const { events } = await second.runtime.deps.audit.list({ userId: 'someone', limit: 10 });
        expect(events.map((e) => e.type)).toEqual(['account_disabled']);
      } finally {
        await second.stop();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('the sweep prunes events older than AUDIT_RETENTION', () => {
  it('on its own timer, keeping the recent ones', async () => {
    let now = Date.now();
    const app = await startApp({
      env: { AUDIT_RETENTION: '1h' },
      compose: { clock: () => now, sweepIntervalMs: 50 },
    });
    try {
      const { audit } = app.runtime.deps;
      const base = {
        userId: 'pruned',
        actor: SYSTEM,
        ip: null,
        userAgent: null,
        sessionId: null,
        reason: null,
      };
      audit.record({ ...base, type: 'account_disabled', at: now - 2 * 60 * MINUTE });
      audit.record({ ...base, type: 'account_enabled', at: now - 30 * MINUTE });
      await audit.flush();
      await waitFor(
        async () => (await audit.list({ userId: 'pruned', limit: 10 })).events.length === 1,
        5_000,
      );
      now += 31 * MINUTE;
      await waitFor(
        async () => (await audit.list({ userId: 'pruned', limit: 10 })).events.length === 0,
        5_000,
      );
    } finally {
      await app.stop();
    }
  });
});

describe('sessions in Redis: the audit trail is still in the users database (PostgreSQL)', () => {
  let db: TestDatabase;
  let redis: TestRedis;
  let app: TestApp;
  beforeAll(async () => {
    [db, redis] = await Promise.all([createTestDatabase(), startRedis()]);
    app = await startApp({ databaseUrl: db.url, redisUrl: redis.url });
  }, 60_000);
  afterAll(async () => {
    await app?.stop();
    await redis?.stop();
    await db?.drop();
  });

  it('a logout lands in tessera_audit_events', async () => {
    const email = uniqueEmail('redis');
    await app.createUser(email);
    const { client, userId, sessionId } = await signIn(app, email);
    expect((await client.mutation('auth.logout')).status).toBe(200);
    const pool = db.pool({ max: 1 });
    await waitFor(async () => {
      const rows = await pool.query(
        `SELECT reason, actor_kind, session_id FROM tessera_audit_events WHERE user_id = $1 AND type = 'session_ended'`,
        [userId],
      );
      return (
        rows.rows.length === 1 &&
        rows.rows[0].reason === 'logged_out' &&
        rows.rows[0].session_id === sessionId
      );
    }, 5_000);
  });
});
