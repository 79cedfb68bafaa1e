/**
 * Credential rate limits an attacker can't reset by lying about their address, black-box, with the
 * limits in a private Redis shared by two instances:
 *  - without TRUST_PROXY, X-Forwarded-For, X-Real-IP, Forwarded, True-Client-IP and CF-Connecting-IP
 *    are ignored: rotating them changes nothing;
 *  - behind one trusted proxy (TRUST_PROXY=1), only the hop the proxy appended counts: rotating what
 *    the client put in front of it changes nothing;
 *  - the per-account limit holds across REAL source addresses (127.0.0.2, .3, ...), so a botnet
 *    can't spread guesses over addresses either; the per-IP limit tells real addresses apart;
 *  - attempts spread over two instances share one counter.
 */
import http from 'node:http';
import { startRedis, type TestRedis } from '@tessera/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD, startApp, type TestApp, uniqueEmail } from '../helpers/app.js';
import { TEST_ORIGIN } from '../helpers/http.js';

const LIMITS = {
  RATE_LIMIT_AUTH_PER_IP: '5',
  RATE_LIMIT_AUTH_PER_ACCOUNT: '3',
  RATE_LIMIT_REQUESTS_PER_MINUTE: '1000',
  RATE_LIMIT_WINDOW: '10m',
};

let redis: TestRedis;
let direct: TestApp;
let directTwin: TestApp;
let proxied: TestApp;
beforeAll(async () => {
  redis = await startRedis();
  [direct, directTwin, proxied] = await Promise.all([
    startApp({ redisUrl: redis.url, compose: { redisPrefix: 'direct:' }, env: LIMITS }),
    startApp({ redisUrl: redis.url, compose: { redisPrefix: 'direct:' }, env: LIMITS }),
    startApp({
      redisUrl: redis.url,
      compose: { redisPrefix: 'proxied:' },
      env: { ...LIMITS, TRUST_PROXY: '1' },
    }),
  ]);
});
afterAll(async () => {
  await Promise.all([direct?.stop(), directTwin?.stop(), proxied?.stop()]);
  await redis?.stop();
});

let n = 1;
const randomIp = () => `203.0.113.${(n++ % 250) + 1}`;
const spoofHeaders = () => {
  const ip = randomIp();
  return {
    'x-forwarded-for': ip,
    'x-real-ip': ip,
    forwarded: `for=${ip}`,
    'true-client-ip': ip,
    'cf-connecting-ip': ip,
  };
};

/** POST auth.login from a chosen local source address (any of 127.0.0.0/8 works on loopback). */
function loginFrom(
  app: TestApp,
  email: string,
  password: string,
  options: { from?: string; headers?: Record<string, string> } = {},
) {
  const url = new URL('/trpc/auth.login', app.url);
  const body = JSON.stringify({ email, password });
  return new Promise<number>((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: 'POST',
        localAddress: options.from ?? '127.0.0.1',
        headers: {
          origin: TEST_ORIGIN,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          ...options.headers,
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('spoofed client addresses reset nothing', () => {
  it('without TRUST_PROXY: per-IP limit holds while every forwarding header rotates', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) {
      statuses.push(
        await loginFrom(direct, uniqueEmail('nobody'), PASSWORD, {
          from: '127.0.0.20',
          headers: spoofHeaders(),
        }),
      );
    }
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429]);
  });

  it('behind one trusted proxy: the client-supplied part of X-Forwarded-For is ignored', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) {
      // What the client sent, then the address the proxy saw (appended by the proxy).
      const xff = `${randomIp()}, ${randomIp()}, 198.51.100.77`;
      statuses.push(
        await loginFrom(proxied, uniqueEmail('nobody'), PASSWORD, { headers: { 'x-forwarded-for': xff } }),
      );
    }
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429]);
    // Positive control: another real client behind the same proxy is not affected.
    expect(
      await loginFrom(proxied, uniqueEmail('nobody'), PASSWORD, {
        headers: { 'x-forwarded-for': '198.51.100.78' },
      }),
    ).toBe(401);
  });

  it('per account: holds across real source addresses and across instances', async () => {
    const email = uniqueEmail('target');
    await direct.createUser(email);
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const app = i % 2 ? directTwin : direct;
      statuses.push(
        await loginFrom(app, email, 'a wrong guess', { from: `127.0.0.${30 + i}`, headers: spoofHeaders() }),
      );
    }
    expect(statuses).toEqual([401, 401, 401, 429, 429]);
    // Even the right password waits for the window now (throttling, not a lockout flag).
    expect(await loginFrom(direct, email, PASSWORD, { from: '127.0.0.40' })).toBe(429);
  });

  it('per IP: real addresses are told apart (a positive control for the tests above)', async () => {
    for (let i = 0; i < 5; i++)
      await loginFrom(direct, uniqueEmail('nobody'), PASSWORD, { from: '127.0.0.50' });
    expect(await loginFrom(direct, uniqueEmail('nobody'), PASSWORD, { from: '127.0.0.50' })).toBe(429);
    expect(await loginFrom(direct, uniqueEmail('nobody'), PASSWORD, { from: '127.0.0.51' })).toBe(401);
  });
});
