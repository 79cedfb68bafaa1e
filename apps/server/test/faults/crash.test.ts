/**
 * A server instance killed mid-request (SIGKILL) leaves nothing half-written. The instance under test
 * (A, a child process) reaches Redis and PostgreSQL through proxies sharing one tripwire; for n = 1,
 * 2, ... the n-th write A sends to either store during one request is held back and A is killed at
 * that instant. So every crash point of the request is tried, in order, until the request completes.
 * A second instance (B) that is never killed, and direct store reads, then check the invariants:
 *  - password change: if the new password is stored, every other session of the user has ended;
 *  - role change (demotion): if the database says `user`, no session of that user acts as admin;
 *  - login: no session record without its index entry, no index entry without a live record, never
 *    more than the limit.
 */
import { createTestDatabase, startRedis, type TestDatabase, type TestRedis } from '@tessera/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { totpCode } from '../../src/auth/totp.js';
import { uniqueEmail } from '../helpers/app.js';
import { type ChildServer, startChildServer, userAdmin } from '../helpers/child-server.js';
import { PASSWORD } from '../helpers/defaults.js';
import type { HttpClient } from '../helpers/http.js';
import { userSessionState } from '../helpers/redis-inspect.js';
import { startTcpProxy, type TcpProxy, Tripwire } from '../helpers/tcp-proxy.js';

let db: TestDatabase;
let redis: TestRedis;
let direct: Redis;
const tripwire = new Tripwire();
let redisProxy: TcpProxy;
let pgProxy: TcpProxy;
let a: ChildServer;
/** The next As, started while the current one works (a start costs ~0.5 s of a busy CPU). */
let spares: Promise<ChildServer>[] = [];
let b: ChildServer;
let admin: ReturnType<typeof userAdmin>;

const startA = () => {
  const pgUrl = new URL(db.url);
  pgUrl.host = `127.0.0.1:${pgProxy.port}`;
  const started = startChildServer({
    env: { DATABASE_URL: pgUrl.toString(), REDIS_URL: `redis://127.0.0.1:${redisProxy.port}` },
  });
  started.catch(() => {});
  return started;
};

beforeAll(async () => {
  [db, redis] = await Promise.all([createTestDatabase(), startRedis()]);
  redisProxy = await startTcpProxy({ port: redis.port }, { label: 'redis', tripwire });
  pgProxy = await startTcpProxy(
    { port: Number(new URL(db.url).port || 5432) },
    { label: 'postgres', tripwire },
  );
  b = await startChildServer({ env: { DATABASE_URL: db.url, REDIS_URL: redis.url } });
  a = await startA();
  spares = [startA(), startA()];
  admin = userAdmin(db.url);
  direct = new Redis(redis.url);
});
afterAll(async () => {
  await Promise.all([
    a?.kill(),
    b?.kill(),
    ...spares.map((s) =>
      s.then(
        (x) => x.kill(),
        () => {},
      ),
    ),
  ]);
  direct?.disconnect();
  await admin?.close();
  await Promise.all([redisProxy?.close(), pgProxy?.close()]);
  await redis?.stop();
  await db?.drop();
});

/** The same cookies, presented to another instance. */
const on = (server: ChildServer, c: HttpClient) => {
  const other = server.client();
  for (const [k, v] of c.jar) other.jar.set(k, v);
  return other;
};

async function signIn(server: ChildServer, email: string, password = PASSWORD) {
  const c = server.client();
  const r = await c.mutation('auth.login', { email, password });
  expect(r.status, JSON.stringify(r.error)).toBe(200);
  return c;
}

/** What the n-th store write was: the store and the start of the command or statement. */
const describeHeld = (label: string, chunk: Buffer) =>
  `${label}: ${chunk
    .toString('latin1')
    .replace(/[^\x20-\x7e]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 60)}`;

/**
 * Sends the request to A with the n-th store write held back; kills A when it is held (a spare
 * takes over). Returns whether it crashed, and where.
 */
async function crashAt(n: number, send: (server: ChildServer) => Promise<unknown>) {
  // The spares must be up (and idle) before counting starts: their start-up goes through the same
  // proxies and would be counted as writes of the request.
  await Promise.all(spares);
  const held = tripwire.arm(n);
  const request = send(a).then(
    () => 'completed' as const,
    () => 'failed' as const,
  );
  const first = await Promise.race([held.then((h) => ({ held: h })), request.then((r) => ({ done: r }))]);
  if ('held' in first) {
    await a.kill('SIGKILL');
    await request;
    // The dead process's connections close by themselves (and with them what was held); the
    // spares' connections through the same proxies stay up.
    tripwire.release();
    a = await spares.shift()!;
    spares.push(startA());
    return { crashed: true, at: describeHeld(first.held.label, first.held.chunk) };
  }
  tripwire.release();
  expect(first.done).toBe('completed');
  return { crashed: false, at: 'after the response' };
}

async function expectIndexConsistent(userId: string, max = 3) {
  const state = await userSessionState(direct, userId);
  expect(state.indexed, 'index == live records').toEqual(state.live);
  expect(state.live.length).toBeLessThanOrEqual(max);
  return state;
}

/**
 * Runs `scenario` with a crash at store write n = 1, 2, ... until the request completes; `check`
 * gets the setup's state after each crash. Prints the crash points.
 */
async function everyCrashPoint<S>(
  name: string,
  setup: (n: number) => Promise<S>,
  send: (state: S, server: ChildServer) => Promise<unknown>,
  check: (state: S) => Promise<string>,
) {
  const lines: string[] = [];
  for (let n = 1; n < 60; n++) {
    const state = await setup(n);
    const outcome = await crashAt(n, (server) => send(state, server));
    const line = `${String(n).padStart(2)} ${outcome.at.padEnd(72)} ${await check(state).catch((e: Error) => {
      throw new Error(
        `${e.message}\nafter a crash at write ${n} (${outcome.at}); before:\n${lines.join('\n')}`,
      );
    })}`;
    lines.push(line);
    if (!outcome.crashed) break;
  }
  console.log(`${name}: SIGKILL before each store write\n${lines.join('\n')}`);
  expect(lines.length).toBeGreaterThan(3);
  return lines;
}

describe('SIGKILL at every store write of a request', () => {
  it('auth.changePassword: if the new password is stored, every other session has ended', async () => {
    await everyCrashPoint(
      'auth.changePassword',
      async (n) => {
        const email = uniqueEmail('crash-pw');
        const user = await admin.create(email);
        const actor = await signIn(b, email);
        const others = [await signIn(b, email), await signIn(b, email)];
        return { email, user, actor, others, next: `a brand new passphrase ${n}` };
      },
      (s, server) =>
        on(server, s.actor).mutation('auth.changePassword', {
          currentPassword: PASSWORD,
          newPassword: s.next,
        }),
      async (s) => {
        const stored = await admin.passwordOf(s.email, [PASSWORD, s.next]);
        expect(stored, 'one of the two passwords is stored').not.toBeNull();
        const alive = await Promise.all(s.others.map(async (c) => (await c.query('auth.me')).status === 200));
        if (stored === s.next)
          expect(alive, 'the new password is stored: others ended').toEqual([false, false]);
        await expectIndexConsistent(s.user.id);
        return `password: ${stored === s.next ? 'new' : 'old'}, other sessions alive: ${alive.filter(Boolean).length}`;
      },
    );
  });

  it('admin.setRole (demotion): if the database says user, no session of that user acts as admin', async () => {
    const boss = await signIn(b, (await admin.create(uniqueEmail('boss'), { role: 'admin' })).email);
    await everyCrashPoint(
      'admin.setRole',
      async () => {
        const email = uniqueEmail('crash-role');
        const user = await admin.create(email, { role: 'admin' });
        return { user, sessions: [await signIn(b, email), await signIn(b, email)] };
      },
      (s, server) => on(server, boss).mutation('admin.setRole', { userId: s.user.id, role: 'user' }),
      async (s) => {
        const role = (await admin.users.findById(s.user.id))?.role;
        const asAdmin = await Promise.all(
          s.sessions.map(async (c) => (await c.query('admin.listUsers')).status === 200),
        );
        if (role === 'user')
          expect(asAdmin, 'demoted in the database: no admin session').toEqual([false, false]);
        await expectIndexConsistent(s.user.id);
        return `role: ${role}, sessions acting as admin: ${asAdmin.filter(Boolean).length}`;
      },
    );
  });

  it('mfa.confirmEnrollment with revokeOtherSessions: if MFA is on, the other sessions have ended', async () => {
    await everyCrashPoint(
      'mfa.confirmEnrollment',
      async () => {
        const email = uniqueEmail('crash-mfa');
        const user = await admin.create(email);
        const actor = await signIn(b, email);
        const others = [await signIn(b, email)];
        const begin = await actor.mutation('mfa.beginEnrollment');
        expect(begin.status).toBe(200);
        return { user, actor, others, secret: begin.data.secret as string };
      },
      (s, server) =>
        on(server, s.actor).mutation('mfa.confirmEnrollment', {
          code: totpCode(s.secret),
          revokeOtherSessions: true,
        }),
      async (s) => {
        const on2fa = (await admin.users.findById(s.user.id))?.mfaSecret != null;
        const alive = await Promise.all(s.others.map(async (c) => (await c.query('auth.me')).status === 200));
        if (on2fa) expect(alive, 'MFA is on: the other sessions ended').toEqual([false]);
        await expectIndexConsistent(s.user.id);
        return `MFA: ${on2fa ? 'on' : 'off'}, other sessions alive: ${alive.filter(Boolean).length}`;
      },
    );
  });

  it('auth.login: a session is indexed or absent, never half-made; the limit holds', async () => {
    await everyCrashPoint(
      'auth.login',
      async () => {
        const email = uniqueEmail('crash-login');
        const user = await admin.create(email);
        for (let i = 0; i < 3; i++) await signIn(b, email);
        return { email, user };
      },
      (s, server) => server.client().mutation('auth.login', { email: s.email, password: PASSWORD }),
      async (s) => {
        const state = await expectIndexConsistent(s.user.id);
        expect(state.live).toHaveLength(3);
        return `live sessions: ${state.live.length}, indexed: ${state.indexed.length}`;
      },
    );
  });
});
