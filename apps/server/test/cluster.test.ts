/**
 * REDIS_CLUSTER_NODES: the same server over a real 3-node Redis Cluster (sessions, MFA challenges,
 * tickets, rate limits and session events all go through the Cluster client).
 */
import {
  createTestDatabase,
  startRedisCluster,
  type TestDatabase,
  type TestRedisCluster,
} from '@tessera/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { totpCode } from '../src/auth/totp.js';
import { expectSessionCookie, PASSWORD, startApp, type TestApp, uniqueEmail } from './helpers/app.js';
import { subscribeSessionEnded } from './helpers/sse.js';

let db: TestDatabase;
let cluster: TestRedisCluster;
let a: TestApp;
let b: TestApp;
beforeAll(async () => {
  [db, cluster] = await Promise.all([createTestDatabase(), startRedisCluster()]);
  const options = {
    databaseUrl: db.url,
    env: {
      REDIS_CLUSTER_NODES: cluster.nodesString,
      SESSION_LIMIT_POLICY: 'reject',
      SESSION_MAX_PER_USER: '2',
    },
  };
  [a, b] = await Promise.all([startApp(options), startApp(options)]);
});
afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  await cluster?.stop();
  await db?.drop();
});

it('uses the cluster and is ready', async () => {
  expect(a.runtime.storeLabel).toMatch(/^Redis Cluster/);
  const ready = await fetch(`${a.url}/readyz`);
  expect(ready.status).toBe(200);
});

it('sign-in, list, revoke across instances, logout', async () => {
  const email = uniqueEmail();
  const one = await a.signedIn(email);
  const two = b.client();
  expectSessionCookie((await two.mutation('auth.login', { email, password: PASSWORD })).setCookies[0]);
  expect((await one.query('sessions.list')).data).toHaveLength(2);
  const stream = await subscribeSessionEnded(two);
  expect((await one.mutation('sessions.revoke', { sessionId: two.sessionToken!.slice(0, 26) })).status).toBe(
    200,
  );
  expect((await stream.next()).reason).toBe('revoked');
  stream.close();
  expect((await two.query('auth.me')).error?.data.reason).toBe('revoked');
  await one.mutation('auth.logout');
  expect((await one.clone().query('auth.me')).status).toBe(401);
});

it('limit tickets and MFA challenges live in the cluster', async () => {
  const email = uniqueEmail();
  const c1 = await a.signedIn(email);
  const { secret } = (await c1.mutation('mfa.beginEnrollment')).data;
  await c1.mutation('mfa.confirmEnrollment', { code: totpCode(secret, Date.now() - 30_000) });
  const c2 = a.client();
  await c2.mutation('auth.login', { email, password: PASSWORD });
  expect((await c2.mutation('auth.verifyMfa', { code: totpCode(secret) })).status).toBe(200);
  const c3 = b.client();
  expect((await c3.mutation('auth.login', { email, password: PASSWORD })).data.status).toBe('mfa_required');
  const conflict = await c3.mutation('auth.verifyMfa', { code: totpCode(secret, Date.now() + 30_000) });
  expect(conflict.status).toBe(409);
  const { ticket, sessions } = conflict.error!.data.sessionLimit;
  const resolved = await c3.mutation('auth.resolveSessionLimit', { ticket, revokeSessionId: sessions[0].id });
  expect(resolved.status).toBe(200);
});
