/**
 * IPv6 clients are limited per /64 (issue 9, defect 5): one subscriber is routinely given a whole
 * /64 (RFC 6177), so every address in it shares one budget in every per-IP limiter: the credential
 * throttle (`auth:ip:`, in the database here and in Redis) and the coarse request limit. Another
 * /64 has a budget of its own; an IPv4-mapped IPv6 address is its IPv4 address. Behind
 * TRUST_PROXY=loopback, so each request speaks from the X-Forwarded-For address it names.
 */
import { createTestDatabase, startRedis, type TestDatabase, type TestRedis } from '@tessera/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientKey } from '../../src/limits/client-key.js';
import { PASSWORD, type StartOptions, startApp, type TestApp, uniqueEmail } from '../helpers/app.js';

const AUTH_PER_IP = 3;
const REQUESTS_PER_MINUTE = 12;
const ENV = {
  TRUST_PROXY: 'loopback',
  RATE_LIMIT_AUTH_PER_IP: String(AUTH_PER_IP),
  RATE_LIMIT_AUTH_PER_ACCOUNT: '1000',
  RATE_LIMIT_REQUESTS_PER_MINUTE: String(REQUESTS_PER_MINUTE),
  RATE_LIMIT_WINDOW: '10m',
};

describe('clientKey: the one key every per-IP limiter counts under', () => {
  it.each([
    ['198.51.100.7', '198.51.100.7'],
    ['::ffff:198.51.100.7', '198.51.100.7'],
    ['::FFFF:c633:6407', '198.51.100.7'],
    ['2001:db8:1:1::1', '2001:db8:1:1::/64'],
    ['2001:db8:1:1:ffff:ffff:ffff:ffff', '2001:db8:1:1::/64'],
    ['2001:0DB8:0001:0001:0000:0000:0000:0009', '2001:db8:1:1::/64'],
    ['2001:db8::1', '2001:db8::/64'],
    ['2001:0:0:1::1', '2001:0:0:1::/64'],
    ['2001:db8:a:b:c:d:1.2.3.4', '2001:db8:a:b::/64'],
    ['fe80::1%eth0', 'fe80::/64'],
    ['::1', '::/64'],
    ['::', '::/64'],
    [null, 'unknown'],
    ['', 'unknown'],
    ['garbage', 'garbage'],
    ['x'.repeat(2000), 'x'.repeat(64)],
    ['2001:db8::/64', '2001:db8::/64'],
  ])('%s -> %s', (address, key) => {
    expect(clientKey(address)).toBe(key);
  });

  it('another /64 is another key', () => {
    expect(clientKey('2001:db8:1:1::1')).not.toBe(clientKey('2001:db8:1:2::1'));
    expect(clientKey('2001:db8:1:1::1')).not.toBe(clientKey('2001:db8:1:100::1'));
  });
});

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

    const login = async (from: string) =>
      (
        await app
          .client({ 'x-forwarded-for': from })
          .mutation('auth.login', { email: uniqueEmail('nobody'), password: PASSWORD })
      ).status;

    it('credential attempts: three addresses of one /64 share one budget; another /64 has its own', async () => {
      const statuses: number[] = [];
      for (let i = 0; i < AUTH_PER_IP; i++) statuses.push(await login('2001:db8:1:1::1'));
      expect(statuses).toEqual(Array(AUTH_PER_IP).fill(401));
      expect(await login('2001:db8:1:1::1')).toBe(429);
      // The rest of the /64, however it is written, gets no fresh budget.
      expect(await login('2001:db8:1:1::2')).toBe(429);
      expect(await login('2001:db8:1:1:ffff:ffff:ffff:fff3')).toBe(429);
      expect(await login('2001:0DB8:0001:0001:0000:0000:0000:0009')).toBe(429);
      // The next /64 is another subscriber.
      expect(await login('2001:db8:1:2::1')).toBe(401);
    });

    it('credential attempts: an IPv4-mapped IPv6 address counts as its IPv4 address', async () => {
      for (let i = 0; i < AUTH_PER_IP; i++) expect(await login('198.51.100.61')).toBe(401);
      expect(await login('::ffff:198.51.100.61')).toBe(429);
      expect(await login('198.51.100.62')).toBe(401);
    });

    it('the request limit: one /64 shares one budget; another /64 has its own', async () => {
      const statuses: number[] = [];
      for (let i = 0; i < REQUESTS_PER_MINUTE; i++) {
        const r = await app
          .client({ 'x-forwarded-for': `2001:db8:2:1::${(i % 3) + 1}` })
          .query('health.check');
        statuses.push(r.status);
      }
      expect(statuses).toEqual(Array(REQUESTS_PER_MINUTE).fill(200));
      expect((await app.client({ 'x-forwarded-for': '2001:db8:2:1::4' }).query('health.check')).status).toBe(
        429,
      );
      expect((await app.client({ 'x-forwarded-for': '2001:db8:2:2::1' }).query('health.check')).status).toBe(
        200,
      );
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
