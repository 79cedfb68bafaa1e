/**
 * Session list IDOR and privilege, black-box: a signed-in user knows another user's public session
 * ids (they are not secret: they appear in that user's lists and in cookies' first half) and tries
 * every door that takes one. Nothing of the other user's ends, and nothing of theirs is listed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD, startApp, type TestApp, uniqueEmail } from '../helpers/app.js';
import type { HttpClient } from '../helpers/http.js';

let app: TestApp;
let reject: TestApp;
beforeAll(async () => {
  [app, reject] = await Promise.all([
    startApp(),
    startApp({ env: { SESSION_LIMIT_POLICY: 'reject', SESSION_MAX_PER_USER: '1' } }),
  ]);
});
afterAll(async () => {
  await Promise.all([app?.stop(), reject?.stop()]);
});

async function twoSessions(target: TestApp, label: string) {
  const email = uniqueEmail(label);
  const user = await target.createUser(email);
  const first = target.client();
  const second = target.client();
  for (const c of [first, second]) await c.mutation('auth.login', { email, password: PASSWORD });
  return { email, user, first, second, ids: [first, second].map((c) => c.sessionToken!.slice(0, 26)) };
}

const alive = async (...clients: HttpClient[]) =>
  Promise.all(clients.map(async (c) => (await c.query('auth.me')).status === 200));

describe('session list IDOR', () => {
  it("a user's list holds only their own sessions", async () => {
    const alice = await twoSessions(app, 'alice');
    const bob = await twoSessions(app, 'bob');
    const listed = (await alice.first.query('sessions.list')).data.map((s: { id: string }) => s.id).sort();
    expect(listed).toEqual([...alice.ids].sort());
    for (const id of bob.ids) expect(listed).not.toContain(id);
  });

  it("revoking another user's session id, or an id forged from it, is NOT_FOUND and ends nothing", async () => {
    const alice = await twoSessions(app, 'alice');
    const bob = await twoSessions(app, 'bob');
    const [bobId] = bob.ids as [string];
    const aliceTag = alice.ids[0]!.slice(0, 4);
    const forged = [
      bobId,
      `${aliceTag}${bobId.slice(4)}`, // Bob's random part under Alice's shard tag
      `${bobId.slice(0, 4)}${alice.ids[0]!.slice(4)}`, // Alice's random part under Bob's tag
      bobId.toLowerCase(),
      `${bobId.slice(0, 25)}A`,
    ];
    for (const sessionId of forged) {
      const r = await alice.first.mutation('sessions.revoke', { sessionId });
      expect(r.status, sessionId).toBe(404);
      expect(r.error?.message).toBe('No such session');
    }
    // An ended id of one's own and a made-up one look the same as someone else's.
    await alice.second.mutation('auth.logout');
    expect((await alice.first.mutation('sessions.revoke', { sessionId: alice.ids[1] })).status).toBe(404);
    expect(await alive(bob.first, bob.second)).toEqual([true, true]);
  });

  it('revoke-others and logout reach only the caller', async () => {
    const alice = await twoSessions(app, 'alice');
    const bob = await twoSessions(app, 'bob');
    expect((await alice.first.mutation('sessions.revokeOthers')).data).toEqual({ revoked: 1 });
    expect(await alive(bob.first, bob.second)).toEqual([true, true]);
    // Logout with Bob's session id and Alice's secret (a forged cookie) ends nothing.
    const forged = app.client();
    forged.jar.set('__Host-tessera', `${bob.ids[0]}.${alice.first.sessionToken!.slice(27)}`);
    expect((await forged.mutation('auth.logout')).data).toEqual({ ended: false });
    expect(await alive(bob.first, bob.second)).toEqual([true, true]);
  });

  it("a session-limit ticket can't end another user's session", async () => {
    const bob = reject.client();
    const bobEmail = uniqueEmail('bob');
    await reject.createUser(bobEmail);
    await bob.mutation('auth.login', { email: bobEmail, password: PASSWORD });
    const aliceEmail = uniqueEmail('alice');
    await reject.createUser(aliceEmail);
    await reject.client().mutation('auth.login', { email: aliceEmail, password: PASSWORD });
    const alice = reject.client();
    const conflict = await alice.mutation('auth.login', { email: aliceEmail, password: PASSWORD });
    expect(conflict.status).toBe(409);
    const r = await alice.mutation('auth.resolveSessionLimit', {
      ticket: conflict.error!.data.sessionLimit.ticket,
      revokeSessionId: bob.sessionToken!.slice(0, 26),
    });
    // Nothing of Bob's ended, so Alice is still at her limit: a new choice, no session.
    expect(r.status).toBe(409);
    expect(alice.sessionToken).toBeUndefined();
    expect(await alive(bob)).toEqual([true]);
  });

  it('admin procedures refuse a user; an admin can end a user', async () => {
    const alice = await twoSessions(app, 'alice');
    const bob = await twoSessions(app, 'bob');
    for (const [path, input] of [
      ['admin.revokeUserSessions', { userId: bob.user.id }],
      ['admin.setRole', { userId: alice.user.id, role: 'admin' }],
    ] as const) {
      const r = await alice.first.mutation(path, input);
      expect(r.status, path).toBe(403);
      expect(r.error?.data.reason).toBe('admin_required');
    }
    expect((await alice.first.query('admin.listUsers')).status).toBe(403);
    expect(await alive(bob.first, bob.second)).toEqual([true, true]);
    // Positive control: the same call from an admin works.
    const boss = await app.signedIn(uniqueEmail('boss'), { role: 'admin' });
    expect((await boss.mutation('admin.revokeUserSessions', { userId: bob.user.id })).data).toEqual({
      revoked: 2,
    });
    expect(await alive(bob.first, bob.second)).toEqual([false, false]);
  });
});
