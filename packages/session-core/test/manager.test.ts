import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { serializeCookie } from '../src/cookie.js';
import { SessionConfigError, SessionError, SessionLimitError, SessionStoreError } from '../src/errors.js';
import type { SessionEvent } from '../src/events.js';
import { createSessionManager } from '../src/manager.js';
import type { SessionManagerOptions } from '../src/options.js';
import type { SessionStore } from '../src/store.js';
import { memoryStore } from '../src/stores/memory.js';

const M = 60_000;

type TestData = { role: string; authAt?: number };

function setup(options: Partial<SessionManagerOptions<TestData>> = {}) {
  let now = 1_700_000_000_000;
  const events: SessionEvent[] = [];
  const sessions = createSessionManager<TestData>({
    store: memoryStore(),
    clock: () => now,
    onEvent: (e) => events.push(e),
    ...options,
  });
  return { sessions, events, advance: (ms: number) => (now += ms), now: () => now };
}

const login = { userId: 'u1', data: { role: 'user' }, userAgent: 'UA', ip: '198.51.100.1' };

describe('createSessionManager options', () => {
  it('applies the documented defaults', () => {
    const { sessions } = setup();
    expect(sessions.policy).toEqual({
      idleMs: 30 * M,
      absoluteMs: 24 * 60 * M,
      tombstoneMs: 60 * M,
      bindingGraceMs: 0,
    });
    expect(sessions.cookieName).toBe('__Host-tessera');
  });

  it.each<[string, Partial<SessionManagerOptions<TestData>>, RegExp]>([
    ['idle > absolute', { idleTimeout: '2h', absoluteTimeout: '1h' }, /can't exceed absoluteTimeout/],
    ['limit < 1', { maxSessionsPerUser: 0 }, /maxSessionsPerUser/],
    ['fractional limit', { maxSessionsPerUser: 1.5 }, /maxSessionsPerUser/],
    ['unknown policy', { onLimit: 'drop' as never }, /onLimit/],
    ['bad duration', { idleTimeout: '30 minutes' }, /idleTimeout/],
    ['tiny idle', { idleTimeout: 10 }, /at least 1s/],
    ['bad clock', { clock: 5 as never }, /clock/],
    ['insecure __Host-', { cookie: { name: '__Host-x', secure: false } }, /__Host-/],
    ['not a store', { store: {} as SessionStore }, /not a SessionStore/],
    ['bad parseData', { parseData: 'zod' as never }, /parseData/],
  ])('rejects %s at construction', (_name, options, message) => {
    expect(() => setup(options)).toThrow(SessionConfigError);
    expect(() => setup(options)).toThrow(message);
  });
});

describe('session lifecycle', () => {
  it('create -> validate -> logout, with cookies as data and events with public ids only', async () => {
    const { sessions, events, advance } = setup();
    const { token, session, cookie } = await sessions.create(login);
    expect(serializeCookie(cookie)).toBe(`__Host-tessera=${token}; Path=/; HttpOnly; Secure; SameSite=Lax`);
    expect(session).toMatchObject({
      userId: 'u1',
      data: { role: 'user' },
      userAgent: 'UA',
      ip: '198.51.100.1',
    });
    expect(session.idleExpiresAt - session.createdAt).toBe(30 * M);
    expect(session.absoluteExpiresAt - session.createdAt).toBe(24 * 60 * M);
    advance(10 * M);
    const valid = await sessions.validate(token);
    expect(valid.session?.id).toBe(session.id);
    expect(valid.session?.idleExpiresAt).toBe(session.createdAt + 40 * M);
    expect(valid.cookie).toBeNull();
    const out = await sessions.logout(token);
    expect(out.ended).toBe(true);
    expect(serializeCookie(out.cookie)).toContain('Max-Age=0');
    const after = await sessions.validate(token);
    expect(after).toMatchObject({ session: null, reason: 'logged_out' });
    expect(events.map((e) => e.type)).toEqual(['created', 'logged_out']);
    expect(JSON.stringify(events)).not.toContain(token.split('.')[1]);
  });

  it('names every way there can be no session', async () => {
    const { sessions, advance } = setup();
    const missing = { session: null, reason: 'missing', token: null, cookie: null };
    expect(await sessions.validate(undefined)).toEqual(missing);
    expect(await sessions.validate('')).toEqual(missing);
    const malformed = await sessions.validate('not-a-token');
    expect(malformed).toMatchObject({ session: null, reason: 'malformed' });
    expect(malformed.cookie?.attributes.maxAge).toBe(0);
    const { token } = await sessions.create(login);
    expect((await sessions.validate(`${token.slice(0, 27)}${'A'.repeat(43)}`)).session).toBeNull();
    advance(30 * M);
    expect(await sessions.validate(token)).toMatchObject({ session: null, reason: 'idle_timeout' });
  });

  it('emits expired once when a deadline is found on access', async () => {
    const { sessions, events, advance } = setup({ idleTimeout: '5m', absoluteTimeout: '10m' });
    const { token } = await sessions.create(login);
    for (let i = 0; i < 3; i++) {
      advance(4 * M);
      await sessions.validate(token);
    }
    expect((await sessions.validate(token)).session).toBeNull();
    expect(events.filter((e) => e.type === 'expired')).toEqual([
      expect.objectContaining({ reason: 'absolute_timeout', userId: 'u1' }),
    ]);
  });

  it('rotate keeps the session and kills the old token without clearing the cookie for it', async () => {
    const { sessions } = setup();
    const first = await sessions.create(login);
    const second = await sessions.rotate(first.token, { authAt: 5 });
    expect(second?.session.id).toBe(first.session.id);
    expect(second?.session.createdAt).toBe(first.session.createdAt);
    expect(second?.session.data).toEqual({ role: 'user', authAt: 5 });
    expect(second?.token).not.toBe(first.token);
    expect(await sessions.validate(first.token)).toEqual({
      session: null,
      reason: 'rotated',
      token: null,
      cookie: null,
    });
    expect((await sessions.validate(second!.token)).session?.id).toBe(first.session.id);
    expect(await sessions.rotate(first.token)).toBeNull();
    expect(await sessions.rotate('garbage')).toBeNull();
  });

  it('patch marks a session without rotating it', async () => {
    const { sessions } = setup();
    const { token } = await sessions.create(login);
    expect((await sessions.patch(token, { authAt: 42 }))?.data).toEqual({ role: 'user', authAt: 42 });
    expect((await sessions.validate(token)).session?.data.authAt).toBe(42);
  });

  it('a role change applies on the very next request and rotates the token then', async () => {
    const { sessions, events } = setup();
    const a = await sessions.create({ ...login, data: { role: 'admin' } });
    const b = await sessions.create({ ...login, data: { role: 'admin' } });
    expect(await sessions.updateUser('u1', { role: 'user' })).toBe(2);
    const next = await sessions.validate(a.token);
    expect(next.session?.data.role).toBe('user');
    expect(next.cookie?.value).toBeTruthy();
    expect(next.cookie?.value).not.toBe(a.token);
    expect(await sessions.validate(a.token)).toEqual({
      session: null,
      reason: 'rotated',
      token: null,
      cookie: null,
    });
    const again = await sessions.validate(next.token!);
    expect(again.session?.data.role).toBe('user');
    expect(again.cookie).toBeNull();
    expect((await sessions.list('u1')).map((s) => s.data.role)).toEqual(['user', 'user']);
    expect(b.session.id).not.toBe(a.session.id);
    expect(events.filter((e) => e.type === 'rotated')).toHaveLength(1);
  });
});

describe('the token in force', () => {
  it('validate returns the presented token, or the new one when it rotated on this very call', async () => {
    const { sessions } = setup();
    const { token } = await sessions.create(login);
    const plain = await sessions.validate(token);
    expect(plain).toMatchObject({ token, cookie: null });
    await sessions.updateUser('u1', { role: 'admin' });
    const rotated = await sessions.validate(token);
    expect(rotated.token).toBeTruthy();
    expect(rotated.token).not.toBe(token);
    expect(rotated.cookie?.value).toBe(rotated.token);
    // The token in force is the one later calls of the same request need: it opens the session.
    expect((await sessions.patch(rotated.token!, { authAt: 1 }))?.data).toEqual({ role: 'admin', authAt: 1 });
    expect(await sessions.patch(token, { authAt: 2 })).toBeNull();
  });

  it('a miss carries no token, and a clearing cookie except for missing and rotated', async () => {
    const { sessions } = setup();
    const { token } = await sessions.create(login);
    await sessions.logout(token);
    const dead = await sessions.validate(token);
    expect(dead).toMatchObject({ session: null, reason: 'logged_out', token: null });
    expect(dead.cookie?.attributes.maxAge).toBe(0);
    expect(await sessions.validate(null)).toMatchObject({ token: null, cookie: null });
  });
});

describe('parseData', () => {
  type Typed = { role: 'user' | 'admin'; since: number };
  const parseData = (raw: unknown): Typed => {
    const r = raw as Partial<Typed>;
    if ((r.role !== 'user' && r.role !== 'admin') || typeof r.since !== 'number')
      throw new TypeError('not an app session');
    return { role: r.role, since: r.since };
  };

  it('types the data from its return type and runs on every session handed out', async () => {
    const seen: unknown[] = [];
    const sessions = createSessionManager({
      store: memoryStore(),
      parseData: (raw) => {
        seen.push(raw);
        return parseData(raw);
      },
    });
    const { token, session } = await sessions.create({ userId: 'u1', data: { role: 'user', since: 1 } });
    const role: 'user' | 'admin' = session.data.role; // inferred: no cast, no type argument
    expect(role).toBe('user');
    expect((await sessions.validate(token)).session?.data).toEqual({ role: 'user', since: 1 });
    expect((await sessions.list('u1'))[0]?.data.since).toBe(1);
    expect(seen).toHaveLength(3); // create (before storing), validate, list
  });

  it('a refusal is a SessionError INVALID_DATA with the cause, and create stores nothing then', async () => {
    const store = memoryStore();
    const sessions = createSessionManager({ store, parseData });
    const refused = await sessions
      .create({ userId: 'u1', data: { role: 'root' as never, since: 1 } })
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(SessionError);
    expect(refused).toMatchObject({ code: 'INVALID_DATA', cause: expect.any(TypeError) });
    expect(store.size()).toBe(0);
    // Data an older version wrote (or anyone else) is checked on the way out too.
    const { token } = await sessions.create({ userId: 'u1', data: { role: 'user', since: 1 } });
    await sessions.updateUser('u1', { since: 'yesterday' as never }, { rotate: false });
    await expect(sessions.validate(token)).rejects.toMatchObject({ code: 'INVALID_DATA' });
  });
});

describe('session ids', () => {
  it('are unrelated to the user when the store makes none: no shared prefix across one user', async () => {
    const { sessions } = setup({ maxSessionsPerUser: 100 });
    const ids = await Promise.all(
      Array.from({ length: 20 }, async () => (await sessions.create(login)).session.id),
    );
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_-]{26}$/);
    expect(new Set(ids.map((id) => id.slice(0, 4))).size).toBeGreaterThan(1);
  });

  it("come from the store when it makes them (the Redis store's shard tag), and must be well-formed", async () => {
    const asked: string[] = [];
    const store: SessionStore = Object.assign(memoryStore(), {
      newSessionId({ userId }: { userId: string }) {
        asked.push(userId);
        return `TAG_${randomBytes(16).toString('base64url')}`;
      },
    });
    const { sessions } = setup({ store });
    const { session } = await sessions.create(login);
    expect(session.id.slice(0, 4)).toBe('TAG_');
    expect(asked).toEqual(['u1']);
    const broken = setup({ store: Object.assign(memoryStore(), { newSessionId: () => 'not an id' }) });
    await expect(broken.sessions.create(login)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(() => setup({ store: Object.assign(memoryStore(), { newSessionId: 'x' }) as never })).toThrow(
      /newSessionId must be a function/,
    );
  });
});

describe('per-user limit', () => {
  it('evict-oldest ends the least recently active session and says so', async () => {
    const { sessions, events, advance } = setup({ maxSessionsPerUser: 2 });
    const a = await sessions.create(login);
    advance(1000);
    const b = await sessions.create(login);
    advance(1000);
    await sessions.validate(a.token);
    advance(1000);
    await sessions.create(login);
    expect(await sessions.validate(b.token)).toMatchObject({ session: null, reason: 'evicted' });
    expect(events.filter((e) => e.type === 'evicted').map((e) => e.sessionId)).toEqual([b.session.id]);
  });

  it('reject throws a typed error listing the active sessions without tokens', async () => {
    const { sessions } = setup({ maxSessionsPerUser: 2, onLimit: 'reject' });
    const a = await sessions.create(login);
    const b = await sessions.create(login);
    const error = await sessions.create(login).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SessionLimitError);
    const limitError = error as SessionLimitError;
    expect(limitError.code).toBe('SESSION_LIMIT');
    expect(limitError.sessions.map((s) => s.id).sort()).toEqual([a.session.id, b.session.id].sort());
    expect(Object.keys(limitError.sessions[0]!).sort()).toEqual([
      'createdAt',
      'id',
      'ip',
      'lastActivityAt',
      'userAgent',
    ]);
    expect(JSON.stringify(limitError.sessions)).not.toContain(a.token);
  });
});

describe('list and revoke', () => {
  it('revokes by public id for the owner only; revokeAll can keep one', async () => {
    const { sessions, events } = setup();
    const a = await sessions.create(login);
    const b = await sessions.create(login);
    const c = await sessions.create(login);
    expect(await sessions.revoke('someone-else', a.session.id)).toBe(false);
    expect(await sessions.revoke('u1', 'not an id')).toBe(false);
    expect(await sessions.revoke('u1', a.session.id)).toBe(true);
    expect(await sessions.validate(a.token)).toMatchObject({ reason: 'revoked' });
    expect(await sessions.revokeAll('u1', { except: c.session.id, reason: 'password_changed' })).toBe(1);
    expect(await sessions.validate(b.token)).toMatchObject({ reason: 'password_changed' });
    expect((await sessions.list('u1')).map((s) => s.id)).toEqual([c.session.id]);
    expect(await sessions.revokeAll('u1')).toBe(1);
    expect(await sessions.list('u1')).toEqual([]);
    expect(events.filter((e) => e.type === 'revoked').map((e) => e.reason)).toEqual([
      'revoked',
      'password_changed',
      'revoked',
    ]);
  });

  it('disabling an account: revokeAll with account_disabled ends every session, each says why', async () => {
    const { sessions, events } = setup();
    const a = await sessions.create(login);
    const b = await sessions.create(login);
    const c = await sessions.create(login);
    const other = await sessions.create({ ...login, userId: 'u2' });
    expect(await sessions.revoke('u1', a.session.id, { reason: 'account_disabled' })).toBe(true);
    expect(await sessions.revokeAll('u1', { reason: 'account_disabled' })).toBe(2);
    for (const { token } of [a, b, c]) {
      const result = await sessions.validate(token);
      expect(result).toMatchObject({ session: null, reason: 'account_disabled', token: null });
      expect(result.cookie?.value).toBe(''); // the clearing cookie
    }
    expect(await sessions.list('u1')).toEqual([]);
    expect((await sessions.validate(other.token)).session?.userId).toBe('u2');
    // revokeAll's order among the sessions it ends is the store's.
    const ended = events
      .filter((e) => e.type !== 'created')
      .map(({ type, sessionId, reason }) => ({ type, sessionId, reason }));
    const byId = (x: { sessionId: string }, y: { sessionId: string }) =>
      x.sessionId.localeCompare(y.sessionId);
    expect(ended.sort(byId)).toEqual(
      [a, b, c]
        .map((s) => ({ type: 'revoked', sessionId: s.session.id, reason: 'account_disabled' }))
        .sort(byId),
    );
  });

  it('rejects misuse with typed errors', async () => {
    const { sessions } = setup();
    await expect(
      sessions.revoke('u1', 'A'.repeat(26), { reason: 'logged_out' as never }),
    ).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    await expect(sessions.revokeAll('u1', { reason: 'evicted' as never })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    // A closed list, not free text: a tombstone's reason is shown to the signed-out user.
    await expect(sessions.revokeAll('u1', { reason: 'disabled' as never })).rejects.toThrow(
      "reason must be one of 'revoked', 'password_changed', 'account_disabled'",
    );
    await expect(sessions.create({ userId: '' })).rejects.toThrow(SessionError);
    await expect(sessions.create({ userId: 'u', data: [] as never })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    await expect(sessions.list('')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('caps hostile metadata', async () => {
    const { sessions } = setup();
    const { session } = await sessions.create({
      ...login,
      userAgent: 'x'.repeat(10_000),
      ip: '1'.repeat(500),
    });
    expect(session.userAgent).toHaveLength(512);
    expect(session.ip).toHaveLength(64);
  });
});

describe('store failures fail closed', () => {
  // The manager is the one place that wraps a store failure: a store throws whatever its driver threw.
  const driverError = new Error('ECONNREFUSED');
  /** A store named `flaky` whose every method (sweep included) rejects with what `fail` throws. */
  const throwing = (fail: () => never) => {
    const broken = { name: 'flaky' } as SessionStore;
    for (const method of [
      'create',
      'validate',
      'rotate',
      'patch',
      'logout',
      'revoke',
      'revokeAll',
      'list',
      'updateUser',
      'sweep',
    ] as const) {
      (broken as unknown as Record<string, unknown>)[method] = async () => fail();
    }
    return { broken };
  };
  const everyOperation = (sessions: ReturnType<typeof setup>['sessions']) => {
    const token = `${'A'.repeat(26)}.${'B'.repeat(43)}`;
    return [
      ['create', () => sessions.create(login)],
      ['validate', () => sessions.validate(token)],
      ['rotate', () => sessions.rotate(token)],
      ['patch', () => sessions.patch(token, { role: 'admin' })],
      ['logout', () => sessions.logout(token)],
      ['revoke', () => sessions.revoke('u1', 'A'.repeat(26))],
      ['revokeAll', () => sessions.revokeAll('u1')],
      ['list', () => sessions.list('u1')],
      ['updateUser', () => sessions.updateUser('u1', { role: 'admin' })],
      ['sweep', () => sessions.sweep()],
    ] as const;
  };

  it('surface as SessionStoreError from every operation, never as "no session"', async () => {
    const { broken } = throwing(() => {
      throw driverError;
    });
    const { sessions } = setup({ store: broken });
    for (const [operation, run] of everyOperation(sessions)) {
      const error = await run().then(
        () => null,
        (e: unknown) => e,
      );
      expect(error, operation).toBeInstanceOf(SessionStoreError);
      expect(error, operation).toMatchObject({ code: 'STORE_UNAVAILABLE', cause: driverError });
      expect((error as Error).message, operation).toBe(`flaky store: ${operation} failed: ECONNREFUSED`);
    }
  });

  it('wrap whatever a store throws, even what is not an Error', async () => {
    const { broken } = throwing(() => {
      throw 'socket closed';
    });
    const { sessions } = setup({ store: broken });
    for (const [operation, run] of everyOperation(sessions)) {
      const error = await run().catch((e: unknown) => e);
      expect(error, operation).toBeInstanceOf(SessionStoreError);
      expect((error as Error).message, operation).toBe(`flaky store: ${operation} failed: socket closed`);
    }
  });

  it('pass a SessionError a store throws on purpose through as it is', async () => {
    const own = new SessionError('INVALID_ARGUMENT', 'session id must come from store.newSessionId');
    const { broken } = throwing(() => {
      throw own;
    });
    const { sessions } = setup({ store: broken });
    for (const [operation, run] of everyOperation(sessions)) {
      expect(await run().catch((e: unknown) => e), operation).toBe(own);
    }
  });

  it('a throwing event listener does not undo the operation', async () => {
    const { sessions } = setup({
      onEvent: () => {
        throw new Error('listener bug');
      },
    });
    const { token } = await sessions.create(login);
    expect((await sessions.validate(token)).session).not.toBeNull();
  });
});

describe('event context', () => {
  it('hands back what logout, revoke and revokeAll were given, on exactly the events they emit', async () => {
    const { sessions, events, advance } = setup({ idleTimeout: '1m', maxSessionsPerUser: 10 });
    const a = await sessions.create(login);
    const b = await sessions.create(login);
    const c = await sessions.create(login);
    const d = await sessions.create(login);
    const actor = { kind: 'admin', userId: 'root' };
    events.length = 0;

    await sessions.logout(a.token, { context: 'self' });
    await sessions.revoke('u1', b.session.id, { context: actor });
    await sessions.revokeAll('u1', { except: d.session.id, context: { n: 3 } });
    await sessions.revokeAll('u1', { context: undefined });
    expect(events.map((e) => [e.type, e.sessionId, e.context])).toEqual([
      ['logged_out', a.session.id, 'self'],
      ['revoked', b.session.id, actor],
      ['revoked', c.session.id, { n: 3 }],
      ['revoked', d.session.id, undefined],
    ]);
    expect(events[1]?.context).toBe(actor); // as given, not a copy
    expect('context' in (events[3] ?? {})).toBe(false);

    // Events no such call caused carry none.
    const e = await sessions.create(login);
    advance(2 * M);
    events.length = 0;
    await sessions.validate(e.token);
    expect(events).toEqual([expect.objectContaining({ type: 'expired', sessionId: e.session.id })]);
    expect('context' in (events[0] ?? {})).toBe(false);
  });
});
