/**
 * The admin console's procedures over real HTTP: the user list (search by email prefix, keyset
 * pagination: checked for correctness on 5,000 users in PGlite, and in PostgreSQL with a C and with
 * an ICU collation, where byte order and the collation's order differ; timings are
 * scripts/users-100k.ts's job), a user's page, revoking one or all sessions, resetting two-step,
 * role changes and the audit log with its filters.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scaleEmail, seedUsers } from '../scripts/users-100k.js';
import { totpCode } from '../src/auth/totp.js';
import { PASSWORD, startApp, type TestApp, uniqueEmail } from './helpers/app.js';
import type { HttpClient } from './helpers/http.js';

const SEEDED = 5_000;
const STEP = 30_000;
/** LIKE's own characters, and '_' vs '0', which byte order and an ICU collation sort apart. */
const ODD_EMAILS = [
  'a_b@like.test',
  'axb@like.test',
  'a%c@like.test',
  'abc@like.test',
  'a\\d@like.test',
  'a0z@like.test',
];

/** A throwaway database on the local PostgreSQL (or DATABASE_URL's server), in a given locale. */
async function scratchDatabase(locale: 'C' | 'icu') {
  const server = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
  const name = `tessera_test_${randomBytes(6).toString('hex')}`;
  const run = async (sql: string) => {
    const client = new pg.Client({ connectionString: server });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await run(
    locale === 'icu'
      ? `CREATE DATABASE ${name} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US'`
      : `CREATE DATABASE ${name} TEMPLATE template0 LOCALE 'C'`,
  );
  const url = new URL(server);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => run(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

/** Byte-wise order of the lowercased emails (ASCII here: the same as the index's text_pattern_ops). */
const byteOrder = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

interface Listed {
  id: string;
  email: string;
  role: string;
  mfaEnabled: boolean;
  disabled: boolean;
  createdAt: number;
}

async function listAll(admin: HttpClient, input: { query?: string; limit?: number }): Promise<Listed[]> {
  const users: Listed[] = [];
  let cursor: string | null = null;
  do {
    const r = await admin.query('admin.listUsers', { ...input, cursor });
    expect(r.status, JSON.stringify(r.error)).toBe(200);
    users.push(...r.data.users);
    cursor = r.data.nextCursor;
  } while (cursor);
  return users;
}

describe.each([
  ['PGlite', null],
  ['PostgreSQL (C collation)', 'C'],
  ['PostgreSQL (ICU en-US collation)', 'icu'],
] as const)('admin.listUsers on %s with 5,000 users', (_label, locale) => {
  let app: TestApp;
  let db: Awaited<ReturnType<typeof scratchDatabase>> | undefined;
  let admin: HttpClient;
  let all: string[];
  beforeAll(async () => {
    db = locale ? await scratchDatabase(locale) : undefined;
    app = await startApp(db ? { databaseUrl: db.url } : {});
    await seedUsers(app.runtime.db, { to: SEEDED, batch: 1_000 });
    for (const email of ODD_EMAILS) await app.createUser(email);
    admin = await app.signedIn('Zz-Admin@Console.test', { role: 'admin' });
    all = [
      ...Array.from({ length: SEEDED }, (_, i) => scaleEmail(i)),
      'Zz-Admin@Console.test',
      ...ODD_EMAILS,
    ].sort((a, b) => byteOrder(a.toLowerCase(), b.toLowerCase()));
  });
  afterAll(async () => {
    await app?.stop();
    await db?.drop();
  });

  it('walks every user once, in email order, whatever the page size', async () => {
    for (const limit of [100, 37]) {
      const listed = await listAll(admin, { limit });
      expect(listed.map((u) => u.email)).toEqual(all);
      expect(new Set(listed.map((u) => u.id)).size).toBe(listed.length);
    }
    const first = await admin.query('admin.listUsers');
    expect(first.data.users).toHaveLength(25);
    expect(first.data.users[0]).toEqual({
      id: expect.any(String),
      email: all[0],
      role: 'user',
      mfaEnabled: false,
      disabled: false,
      createdAt: expect.any(Number),
    });
  });

  it('searches by email prefix, case-insensitively, trimmed', async () => {
    const expected = all.filter((e) => e.toLowerCase().startsWith('mar'));
    expect(expected.length).toBeGreaterThan(300); // maria, mark, martin
    for (const query of ['mar', 'MAR', '  Mar ']) {
      expect((await listAll(admin, { query, limit: 100 })).map((u) => u.email)).toEqual(expected);
    }
    expect((await listAll(admin, { query: 'zz-admin@console' })).map((u) => u.email)).toEqual([
      'Zz-Admin@Console.test',
    ]);
    expect(await listAll(admin, { query: 'nobody-by-this-name' })).toEqual([]);
    const last = await admin.query('admin.listUsers', { query: 'mark.', limit: 100 });
    expect(last.data.users.length).toBeLessThanOrEqual(100);
  });

  it("matches LIKE's own characters literally", async () => {
    const emails = async (query: string) => (await listAll(admin, { query })).map((u) => u.email);
    expect(await emails('a_')).toEqual(['a_b@like.test']);
    expect(await emails('a%')).toEqual(['a%c@like.test']);
    expect(await emails('a\\')).toEqual(['a\\d@like.test']);
  });

  it('a cursor keeps its place when users are added before it', async () => {
    const page = await admin.query('admin.listUsers', { limit: 10 });
    await app.createUser(`${'0'.repeat(3)}-first-${Date.now()}@x.test`);
    const next = await admin.query('admin.listUsers', { limit: 10, cursor: page.data.nextCursor });
    expect(next.data.users.map((u: Listed) => u.email)).toEqual(all.slice(10, 20));
  });

  it('refuses a bad cursor or limit (BAD_REQUEST)', async () => {
    for (const cursor of ['nope!', Buffer.from('{"e":1}').toString('base64url'), 'AAAA', 'x'.repeat(600)]) {
      const r = await admin.query('admin.listUsers', { cursor });
      expect(r.status, cursor).toBe(400);
    }
    expect((await admin.query('admin.listUsers', { limit: 101 })).status).toBe(400);
    expect((await admin.query('admin.listUsers', { query: 'x'.repeat(255) })).status).toBe(400);
  });
});

describe('a user page, revoking, resetting two-step, roles and the audit log', () => {
  let app: TestApp;
  let admin: HttpClient;
  let adminId: string;
  let adminEmail: string;
  beforeAll(async () => {
    app = await startApp();
    adminEmail = uniqueEmail('admin');
    admin = await app.signedIn(adminEmail, { role: 'admin' });
    adminId = (await admin.query('auth.me')).data.user.id;
  });
  afterAll(async () => {
    await app?.stop();
  });

  async function userWithSessions(n: number) {
    const email = uniqueEmail();
    const { id } = await app.createUser(email);
    const clients: HttpClient[] = [];
    for (let i = 0; i < n; i++) {
      const c = app.client({
        'user-agent': 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0',
      });
      expect((await c.mutation('auth.login', { email, password: PASSWORD })).status).toBe(200);
      clients.push(c);
    }
    return { email, id, clients };
  }

  it('admin.getUser: the account, its sessions (device, IP, times) and its latest events', async () => {
    const { id, email, clients } = await userWithSessions(2);
    await app.runtime.deps.audit.flush();
    const r = await admin.query('admin.getUser', { userId: id });
    expect(r.status).toBe(200);
    expect(r.data.user).toEqual({
      id,
      email,
      role: 'user',
      mfaEnabled: false,
      disabled: false,
      disabledAt: null,
      createdAt: expect.any(Number),
      passwordChangedAt: expect.any(Number),
    });
    expect(r.data.sessions.map((s: { id: string }) => s.id).sort()).toEqual(
      clients.map((c) => c.sessionToken!.slice(0, 26)).sort(),
    );
    expect(r.data.sessions[0]).toEqual({
      id: expect.any(String),
      createdAt: expect.any(Number),
      lastActivityAt: expect.any(Number),
      ip: '127.0.0.1',
      userAgent: expect.stringContaining('Firefox'),
      browser: 'Firefox 128',
      os: 'Linux',
      device: 'desktop',
      deviceBoundAt: null,
    });
    expect(r.data.events.map((e: { type: string }) => e.type)).toEqual(['sign_in', 'sign_in']);
    expect(r.data.events[0]).toMatchObject({ actor: { kind: 'self' }, browser: 'Firefox 128' });
    expect(Object.keys(r.data.events[0].actor)).toEqual(['kind']);
    expect((await admin.query('admin.getUser', { userId: 'nope' })).status).toBe(404);
    expect((await clients[0]!.query('admin.getUser', { userId: id })).status).toBe(403);
  });

  it('admin.revokeSession ends one session; admin.revokeUserSessions the rest; both recorded as the admin', async () => {
    const { id, clients } = await userWithSessions(3);
    const [one, two, three] = clients as [HttpClient, HttpClient, HttpClient];
    const oneId = one.sessionToken!.slice(0, 26);
    const r = await admin.mutation('admin.revokeSession', { userId: id, sessionId: oneId });
    expect(r.data).toEqual({ revoked: true });
    expect((await one.query('auth.me')).error?.data.reason).toBe('revoked');
    expect((await two.query('auth.me')).status).toBe(200);
    // Already ended: nothing to do.
    expect((await admin.mutation('admin.revokeSession', { userId: id, sessionId: oneId })).data).toEqual({
      revoked: false,
    });
    // Another user's session id doesn't end that session.
    const other = await app.signedIn(uniqueEmail());
    const otherSession = other.sessionToken!.slice(0, 26);
    expect(
      (await admin.mutation('admin.revokeSession', { userId: id, sessionId: otherSession })).data,
    ).toEqual({ revoked: false });
    expect((await other.query('auth.me')).status).toBe(200);
    expect((await admin.mutation('admin.revokeSession', { userId: 'nope', sessionId: oneId })).status).toBe(
      404,
    );

    expect((await admin.mutation('admin.revokeUserSessions', { userId: id })).data).toEqual({ revoked: 2 });
    for (const c of [two, three]) expect((await c.query('auth.me')).error?.data.reason).toBe('revoked');

    await app.runtime.deps.audit.flush();
    const ended = (await app.runtime.deps.audit.list({ userId: id, types: ['session_ended'], limit: 10 }))
      .events;
    expect(ended).toHaveLength(3);
    for (const e of ended) {
      expect(e).toMatchObject({ reason: 'revoked', actor: { kind: 'admin', userId: adminId } });
    }
  });

  it('admin.resetMfa turns two-step off (fresh admin), the user signs in with the password alone', async () => {
    const email = uniqueEmail('mfa');
    const c = await app.signedIn(email);
    const id = (await c.query('auth.me')).data.user.id;
    const { secret } = (await c.mutation('mfa.beginEnrollment')).data;
    expect(
      (await c.mutation('mfa.confirmEnrollment', { code: totpCode(secret, Date.now() - STEP) })).status,
    ).toBe(200);
    expect((await app.client().mutation('auth.login', { email, password: PASSWORD })).data.status).toBe(
      'mfa_required',
    );

    expect((await c.mutation('admin.resetMfa', { userId: id })).status).toBe(403);
    const r = await admin.mutation('admin.resetMfa', { userId: id });
    expect(r.status, JSON.stringify(r.error)).toBe(200);
    expect(r.data.user).toMatchObject({ id, mfaEnabled: false });
    // Every session of the user knows at once (auth.me answers from the session).
    expect((await c.query('auth.me')).data.user.mfaEnabled).toBe(false);
    expect((await app.client().mutation('auth.login', { email, password: PASSWORD })).data.status).toBe(
      'signed_in',
    );
    expect((await admin.query('admin.getUser', { userId: id })).data.user.mfaEnabled).toBe(false);
    // Already off: nothing more to record.
    expect((await admin.mutation('admin.resetMfa', { userId: id })).status).toBe(200);
    // Not your own: mfa.disable asks for a code, the console is no way around it.
    expect((await admin.mutation('admin.resetMfa', { userId: adminId })).status).toBe(409);
    expect((await admin.mutation('admin.resetMfa', { userId: 'nope' })).status).toBe(404);

    await app.runtime.deps.audit.flush();
    const off = (await app.runtime.deps.audit.list({ userId: id, types: ['mfa_disabled'], limit: 10 }))
      .events;
    expect(off).toEqual([expect.objectContaining({ actor: expect.objectContaining({ kind: 'admin' }) })]);
  });

  it('admin.setRole records role_changed with from and to', async () => {
    const { id } = await userWithSessions(0);
    expect((await admin.mutation('admin.setRole', { userId: id, role: 'admin' })).status).toBe(200);
    expect((await admin.mutation('admin.setRole', { userId: id, role: 'admin' })).status).toBe(200);
    await app.runtime.deps.audit.flush();
    const changed = (await app.runtime.deps.audit.list({ userId: id, types: ['role_changed'], limit: 10 }))
      .events;
    // The second call changed nothing, and records nothing.
    expect(changed).toEqual([
      expect.objectContaining({
        detail: { from: 'user', to: 'admin' },
        actor: expect.objectContaining({ kind: 'admin' }),
      }),
    ]);
  });

  it('admin.auditEvents: every event, filtered by type, user (id or email) and time, paginated', async () => {
    const { id, email } = await userWithSessions(2);
    await app.client().mutation('auth.login', { email, password: 'wrong' });
    await admin.mutation('admin.revokeUserSessions', { userId: id });
    await app.runtime.deps.audit.flush();

    const byUser = await admin.query('admin.auditEvents', { userId: id });
    expect(byUser.status).toBe(200);
    expect(byUser.data.events.map((e: { type: string }) => e.type)).toEqual([
      'session_ended',
      'session_ended',
      'sign_in_failed',
      'sign_in',
      'sign_in',
    ]);
    const ended = byUser.data.events[0];
    expect(ended).toMatchObject({
      userId: id,
      userEmail: email,
      actor: { kind: 'admin', userId: adminId },
      actorEmail: adminEmail,
      reason: 'revoked',
    });
    expect(byUser.data.events[4]).toMatchObject({ actor: { kind: 'self' }, actorEmail: email });

    const byEmail = await admin.query('admin.auditEvents', { email: email.toUpperCase() });
    expect(byEmail.data.events.map((e: { id: string }) => e.id)).toEqual(
      byUser.data.events.map((e: { id: string }) => e.id),
    );
    expect((await admin.query('admin.auditEvents', { email: 'nobody@example.com' })).data).toEqual({
      events: [],
      nextCursor: null,
    });
    expect((await admin.query('admin.auditEvents', { email, userId: adminId })).data.events).toEqual([]);

    const failed = await admin.query('admin.auditEvents', { userId: id, types: ['sign_in_failed'] });
    expect(failed.data.events).toEqual([
      expect.objectContaining({ type: 'sign_in_failed', reason: 'password' }),
    ]);
    const two = await admin.query('admin.auditEvents', { userId: id, types: ['sign_in', 'sign_in_failed'] });
    expect(two.data.events).toHaveLength(3);

    const times = byUser.data.events.map((e: { at: number }) => e.at);
    const from = Math.min(...times);
    const inRange = await admin.query('admin.auditEvents', { userId: id, from, to: from + 1 });
    expect(inRange.data.events.every((e: { at: number }) => e.at === from)).toBe(true);
    expect(inRange.data.events.length).toBeGreaterThan(0);
    expect((await admin.query('admin.auditEvents', { userId: id, to: from })).data.events).toEqual([]);

    // Pages of 2 add up to the whole, in order.
    const ids: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await admin.query('admin.auditEvents', { userId: id, limit: 2, cursor });
      expect(page.data.events.length).toBeLessThanOrEqual(2);
      ids.push(...page.data.events.map((e: { id: string }) => e.id));
      cursor = page.data.nextCursor;
    } while (cursor);
    expect(ids).toEqual(byUser.data.events.map((e: { id: string }) => e.id));

    const everything = await admin.query('admin.auditEvents', { limit: 100 });
    expect(everything.data.events.length).toBeGreaterThan(5);
    expect((await admin.query('admin.auditEvents', { cursor: 'abc' })).status).toBe(400);
    expect((await admin.query('admin.auditEvents', { types: ['nope'] })).status).toBe(400);
    expect((await admin.query('admin.auditEvents', { limit: 101 })).status).toBe(400);
    const user = await app.signedIn(uniqueEmail());
    expect((await user.query('admin.auditEvents')).status).toBe(403);
  });
});
