/**
 * No resurrection: ending a session (logout, revoke, revoke-others, an admin's revoke-all, a password
 * change) while 100 requests of that very session are in flight (touches, reads, a re-authentication
 * that rotates the token, a pending role change that rotates it on the next request), on two
 * instances sharing the stores. Afterwards no token the session ever had opens it, it is not listed,
 * and no request that started after the end was answered 200. And a password change racing sign-ins
 * that use the old password leaves no session made with the old password.
 * Run over Redis and over PostgreSQL (sessions in SQL).
 */
import { createTestDatabase, startRedis, type TestDatabase, type TestRedis } from '@tessera/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD, type StartOptions, startApp, type TestApp, uniqueEmail } from '../helpers/app.js';
import type { CallResult, HttpClient } from '../helpers/http.js';

const IN_FLIGHT = 100;

/** The same cookies, presented to another instance. */
const on = (app: TestApp, c: HttpClient) => {
  const other = app.client();
  for (const [k, v] of c.jar) other.jar.set(k, v);
  return other;
};

interface Timed {
  label: string;
  start: number;
  end: number;
  result: CallResult;
}

async function timed(label: string, call: () => Promise<CallResult>): Promise<Timed> {
  const start = performance.now();
  const result = await call();
  return { label, start, end: performance.now(), result };
}

function backends(): [string, () => Promise<{ options: StartOptions; cleanup: () => Promise<void> }>][] {
  return [
    [
      'Redis',
      async () => {
        const [db, redis]: [TestDatabase, TestRedis] = await Promise.all([
          createTestDatabase(),
          startRedis(),
        ]);
        return {
          options: { databaseUrl: db.url, redisUrl: redis.url },
          cleanup: async () => {
            await redis.stop();
            await db.drop();
          },
        };
      },
    ],
    [
      'PostgreSQL',
      async () => {
        const db = await createTestDatabase();
        return { options: { databaseUrl: db.url }, cleanup: () => db.drop() };
      },
    ],
  ];
}

describe.each(backends())('sessions in %s, two instances', (_name, setup) => {
  let a: TestApp;
  let b: TestApp;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    const s = await setup();
    cleanup = s.cleanup;
    const env = { SESSION_MAX_PER_USER: '100' };
    [a, b] = await Promise.all([startApp({ ...s.options, env }), startApp({ ...s.options, env })]);
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await cleanup?.();
  });

  /**
   * One round: the victim session sends IN_FLIGHT requests, alternating instances, and `end` runs
   * after a third of them were sent. Returns every response with its timing.
   */
  async function race(
    end: (ctx: { victim: HttpClient; helper: HttpClient; userId: string }) => Promise<Timed>,
  ) {
    const email = uniqueEmail('race');
    const victim = await a.signedIn(email, { role: 'admin' });
    const helper = b.client();
    expect((await helper.mutation('auth.login', { email, password: PASSWORD })).status).toBe(200);
    const userId = (await victim.query('auth.me')).data.user.id as string;
    const tokens = new Set<string>([victim.sessionToken!]);
    // A pending role change: the victim's next request rotates its token.
    expect((await helper.mutation('admin.setRole', { userId, role: 'admin' })).status).toBe(200);

    const calls: Promise<Timed>[] = [];
    let ended: Promise<Timed> | null = null;
    for (let i = 0; i < IN_FLIGHT; i++) {
      const c = on(i % 2 ? b : a, victim);
      const kind = i % 5;
      calls.push(
        timed(`#${i}`, async () => {
          const r =
            kind === 0
              ? await c.mutation('auth.ping')
              : kind === 1
                ? await c.query('auth.me')
                : kind === 2
                  ? await c.query('sessions.list')
                  : kind === 3
                    ? await c.mutation('auth.reauthenticate', { password: PASSWORD })
                    : await c.query('admin.listUsers');
          if (c.sessionToken) tokens.add(c.sessionToken);
          return r;
        }),
      );
      if (i === Math.floor(IN_FLIGHT / 3)) ended = end({ victim, helper, userId });
      if (i % 10 === 0) await new Promise((r) => setImmediate(r));
    }
    const results = await Promise.all(calls);
    const stop = await ended!;
    expect(stop.result.status, JSON.stringify(stop.result.error)).toBe(200);

    // No response to a request sent after the end completed was a 200.
    const late = results.filter((r) => r.start > stop.end);
    expect(late.filter((r) => r.result.status === 200).map((r) => r.label)).toEqual([]);
    // Nothing but 200 (before) and 401 (after) - never a 5xx.
    for (const r of results) expect([200, 401]).toContain(r.result.status);
    // Every token the session ever had is dead, on both instances, and stays dead.
    for (const token of tokens) {
      for (const app of [a, b]) {
        const c = app.client();
        c.jar.set('__Host-tessera', token);
        expect((await c.query('auth.me')).status).toBe(401);
      }
    }
    const victimId = victim.sessionToken!.slice(0, 26);
    const listed = ((await helper.query('sessions.list')).data ?? []) as { id: string }[];
    expect(listed.map((s) => s.id)).not.toContain(victimId);
    return { results, late: late.length };
  }

  it('logout racing 100 in-flight requests of the session: no resurrection', async () => {
    for (let round = 0; round < 3; round++) {
      await race(({ victim }) => timed('logout', () => on(b, victim).mutation('auth.logout')));
    }
  });

  it('revoke (from another session) racing 100 in-flight requests: no resurrection', async () => {
    for (let round = 0; round < 3; round++) {
      await race(({ victim, helper }) =>
        timed('revoke', () =>
          helper.mutation('sessions.revoke', { sessionId: victim.sessionToken!.slice(0, 26) }),
        ),
      );
    }
  });

  it('revoke-others, an admin revoke-all and a password change racing 100 in-flight requests', async () => {
    await race(({ helper }) => timed('revokeOthers', () => helper.mutation('sessions.revokeOthers')));
    await race(({ helper, userId }) =>
      timed('revokeUserSessions', () => helper.mutation('admin.revokeUserSessions', { userId })),
    );
    await race(({ helper }) =>
      timed('changePassword', () =>
        helper.mutation('auth.changePassword', {
          currentPassword: PASSWORD,
          newPassword: `another long passphrase ${Math.random()}`,
        }),
      ),
    );
  });

  it('a password change racing sign-ins with the old password: no session made with the old one survives', async () => {
    for (let round = 0; round < 4; round++) {
      const email = uniqueEmail('pwrace');
      const actor = await a.signedIn(email);
      const logins: Promise<HttpClient | null>[] = [];
      const next = `the replacement passphrase ${round}`;
      let change: Promise<CallResult> | null = null;
      for (let i = 0; i < 40; i++) {
        const app = i % 2 ? a : b;
        logins.push(
          (async () => {
            const c = app.client();
            const r = await c.mutation('auth.login', { email, password: PASSWORD });
            expect([200, 401]).toContain(r.status);
            return r.status === 200 ? c : null;
          })(),
        );
        if (i === 12) {
          change = actor.mutation('auth.changePassword', { currentPassword: PASSWORD, newPassword: next });
        }
        await new Promise((r) => setTimeout(r, i % 3));
      }
      const signedIn = (await Promise.all(logins)).filter((c): c is HttpClient => c !== null);
      expect((await change!).status).toBe(200);
      const survivors = [];
      for (const c of signedIn) if ((await c.query('auth.me')).status === 200) survivors.push(c);
      expect(survivors, `${survivors.length} of ${signedIn.length} old-password sessions survived`).toEqual(
        [],
      );
      expect(((await actor.query('sessions.list')).data as unknown[]).length).toBe(1);
    }
  });
  it('a demotion racing sign-ins: no session keeps the admin role', async () => {
    const boss = await a.signedIn(uniqueEmail('boss'), { role: 'admin' });
    for (let round = 0; round < 4; round++) {
      const email = uniqueEmail('demoted');
      const target = await a.createUser(email, { role: 'admin' });
      const logins: Promise<HttpClient | null>[] = [];
      let demotion: Promise<CallResult> | null = null;
      for (let i = 0; i < 30; i++) {
        const app = i % 2 ? a : b;
        logins.push(
          (async () => {
            const c = app.client();
            const r = await c.mutation('auth.login', { email, password: PASSWORD });
            expect([200, 401]).toContain(r.status);
            return r.status === 200 ? c : null;
          })(),
        );
        if (i === 10) demotion = boss.mutation('admin.setRole', { userId: target.id, role: 'user' });
        await new Promise((r) => setTimeout(r, i % 3));
      }
      const signedIn = (await Promise.all(logins)).filter((c): c is HttpClient => c !== null);
      expect((await demotion!).status).toBe(200);
      const stillAdmin = [];
      for (const c of signedIn) if ((await c.query('admin.listUsers')).status === 200) stillAdmin.push(c);
      expect(
        stillAdmin.length,
        `${stillAdmin.length} of ${signedIn.length} sessions kept the admin role`,
      ).toBe(0);
    }
  });
});
