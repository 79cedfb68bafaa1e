/**
 * Credential rate limits per IP and per account (and the coarse per-IP request limit), in the
 * database (embedded) and in Redis. TRUST_PROXY=loopback here, so each test speaks from its own
 * X-Forwarded-For address.
 */
import { createTestDatabase, startRedis, type TestDatabase, type TestRedis } from '@tessera/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD, type StartOptions, startApp, type TestApp, uniqueEmail } from './helpers/app.js';

const ENV = {
  TRUST_PROXY: 'loopback',
  RATE_LIMIT_AUTH_PER_IP: '8',
  RATE_LIMIT_AUTH_PER_ACCOUNT: '3',
  RATE_LIMIT_REQUESTS_PER_MINUTE: '40',
  RATE_LIMIT_WINDOW: '10m',
};

let ipCounter = 1;
const newIp = () => `198.51.100.${ipCounter++}`;

function suite(name: string, setup: () => Promise<{ options: StartOptions; cleanup: () => Promise<void> }>) {
  describe(name, () => {
    let app: TestApp;
    let cleanup: () => Promise<void>;
    beforeAll(async () => {
      const s = await setup();
      cleanup = s.cleanup;
      app = await startApp({ ...s.options, env: ENV });
    });
    afterAll(async () => {
      await app?.stop();
      await cleanup?.();
    });

    it('per account: 3 failures, then 429 with Retry-After, even with the right password', async () => {
      const email = uniqueEmail();
      await app.createUser(email);
      for (let i = 0; i < 3; i++) {
        const r = await app
          .client({ 'x-forwarded-for': newIp() })
          .mutation('auth.login', { email, password: 'wrong wrong wrong' });
        expect(r.status).toBe(401);
      }
      const r = await app
        .client({ 'x-forwarded-for': newIp() })
        .mutation('auth.login', { email, password: PASSWORD });
      expect(r.status).toBe(429);
      expect(r.error?.data.code).toBe('TOO_MANY_REQUESTS');
      expect(r.error?.data.retryAfter).toBeGreaterThan(500);
      expect(Number(r.headers.get('retry-after'))).toBe(r.error?.data.retryAfter);
      expect(r.setCookies).toEqual([]);
      // Another account from the same address is unaffected.
      const other = uniqueEmail();
      await app.createUser(other);
      expect(
        (
          await app
            .client({ 'x-forwarded-for': newIp() })
            .mutation('auth.login', { email: other, password: PASSWORD })
        ).status,
      ).toBe(200);
    });

    it('per account: a success gives its attempt back (only failures count)', async () => {
      const email = uniqueEmail();
      await app.createUser(email);
      const c = () => app.client({ 'x-forwarded-for': newIp() });
      expect((await c().mutation('auth.login', { email, password: 'wrong wrong wrong' })).status).toBe(401);
      expect((await c().mutation('auth.login', { email, password: 'wrong wrong wrong' })).status).toBe(401);
      expect((await c().mutation('auth.login', { email, password: PASSWORD })).status).toBe(200);
      expect((await c().mutation('auth.login', { email, password: 'wrong wrong wrong' })).status).toBe(401);
      expect((await c().mutation('auth.login', { email, password: PASSWORD })).status).toBe(429);
    });

    it('per account: unknown emails are limited alike (no enumeration through the limiter)', async () => {
      const email = uniqueEmail('ghost');
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) {
        statuses.push(
          (
            await app
              .client({ 'x-forwarded-for': newIp() })
              .mutation('auth.login', { email, password: PASSWORD })
          ).status,
        );
      }
      expect(statuses).toEqual([401, 401, 401, 429]);
    });

    it('per account: wrong passwords on reauthenticate count too', async () => {
      const email = uniqueEmail();
      await app.createUser(email);
      const ip = newIp();
      const c = app.client({ 'x-forwarded-for': ip });
      expect((await c.mutation('auth.login', { email, password: PASSWORD })).status).toBe(200);
      for (let i = 0; i < 3; i++)
        expect((await c.mutation('auth.reauthenticate', { password: 'nope nope nope' })).status).toBe(403);
      expect((await c.mutation('auth.reauthenticate', { password: PASSWORD })).status).toBe(429);
      expect(
        (await c.mutation('auth.changePassword', { currentPassword: PASSWORD, newPassword: 'x'.repeat(20) }))
          .status,
      ).toBe(429);
    });

    it('per IP: 8 attempts per window across accounts, then 429 for that address only', async () => {
      const ip = newIp();
      const statuses: number[] = [];
      for (let i = 0; i < 9; i++) {
        const email = uniqueEmail();
        await app.createUser(email);
        statuses.push(
          (await app.client({ 'x-forwarded-for': ip }).mutation('auth.login', { email, password: PASSWORD }))
            .status,
        );
      }
      expect(statuses).toEqual([...Array(8).fill(200), 429]);
      const email = uniqueEmail();
      await app.createUser(email);
      const elsewhere = app.client({ 'x-forwarded-for': newIp() });
      expect((await elsewhere.mutation('auth.login', { email, password: PASSWORD })).status).toBe(200);
      // With TRUST_PROXY the forwarded address is the client address.
      expect((await elsewhere.query('sessions.list')).data[0].ip).toMatch(/^198\.51\.100\./);
    });

    it('all /trpc requests: 40 per minute per address, then 429', async () => {
      const c = app.client({ 'x-forwarded-for': newIp() });
      const statuses: number[] = [];
      for (let i = 0; i < 41; i++) statuses.push((await c.query('auth.me')).status);
      expect(statuses.slice(0, 40)).toEqual(Array(40).fill(401));
      expect(statuses[40]).toBe(429);
    });
  });
}

suite('in the embedded database', async () => ({ options: {}, cleanup: async () => {} }));

suite('in Redis', async () => {
  const [db, redis]: [TestDatabase, TestRedis] = await Promise.all([createTestDatabase(), startRedis()]);
  return {
    options: { databaseUrl: db.url, redisUrl: redis.url },
    cleanup: async () => {
      await redis.stop();
      await db.drop();
    },
  };
});
