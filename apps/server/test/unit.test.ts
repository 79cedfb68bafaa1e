/** Pure pieces: env parsing, the password policy, TOTP steps, the edge guard's origin rule. */

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { matchTotp, newTotpSecret, totpCode } from '../src/auth/totp.js';
import { ENV_VARIABLES, EnvError, parseEnv } from '../src/env.js';
import { checkPassword } from '../src/users/password-policy.js';

describe('parseEnv', () => {
  it('has the documented defaults', () => {
    const c = parseEnv({}, '/srv/app');
    expect(c).toMatchObject({
      nodeEnv: 'production',
      port: 3000,
      host: 'localhost',
      appOrigin: 'http://localhost:3000',
      redisUrl: null,
      redisClusterNodes: null,
      databaseUrl: null,
      dataDir: '/srv/app/.data',
      session: {
        idleTimeoutMs: 30 * 60_000,
        absoluteTimeoutMs: 24 * 3_600_000,
        maxPerUser: 3,
        limitPolicy: 'evict-oldest',
      },
      cookieSecure: true,
      trustProxy: false,
      freshAuthWindowMs: 5 * 60_000,
      rateLimit: { windowMs: 15 * 60_000, authPerIp: 50, authPerAccount: 10, requestsPerMinute: 1200 },
    });
  });

  it('reads every variable', () => {
    const c = parseEnv({
      PORT: '8080',
      HOST: '0.0.0.0',
      APP_ORIGIN: 'https://app.example.com',
      REDIS_CLUSTER_NODES: '10.0.0.1:7000, 10.0.0.2:7001',
      DATABASE_URL: 'postgres://u:p@db:5432/tessera',
      SESSION_IDLE_TIMEOUT: '15m',
      SESSION_ABSOLUTE_TIMEOUT: '8h',
      SESSION_MAX_PER_USER: '5',
      SESSION_LIMIT_POLICY: 'reject',
      COOKIE_SECURE: 'false',
      TRUST_PROXY: '10.0.0.0/8,127.0.0.1',
      FRESH_AUTH_WINDOW: '10m',
      RATE_LIMIT_AUTH_PER_IP: '7',
    });
    expect(c).toMatchObject({
      port: 8080,
      appOrigin: 'https://app.example.com',
      redisClusterNodes: ['10.0.0.1:7000', '10.0.0.2:7001'],
      session: {
        idleTimeoutMs: 900_000,
        absoluteTimeoutMs: 28_800_000,
        maxPerUser: 5,
        limitPolicy: 'reject',
      },
      cookieSecure: false,
      trustProxy: ['10.0.0.0/8', '127.0.0.1'],
      freshAuthWindowMs: 600_000,
    });
    expect(c.rateLimit.authPerIp).toBe(7);
    expect(parseEnv({ TRUST_PROXY: '2' }).trustProxy).toBe(2);
    expect(parseEnv({}).databasePoolSize).toBe(10);
    expect(parseEnv({ DATABASE_POOL_SIZE: '40' }).databasePoolSize).toBe(40);
    expect(() => parseEnv({ DATABASE_POOL_SIZE: '0' })).toThrow(/DATABASE_POOL_SIZE/);
    expect(parseEnv({}).passwordHashConcurrency).toBeGreaterThanOrEqual(1);
    expect(parseEnv({ PASSWORD_HASH_CONCURRENCY: '3' }).passwordHashConcurrency).toBe(3);
  });

  it('reports every problem at once, by variable name', () => {
    try {
      parseEnv({
        PORT: 'eighty',
        SESSION_IDLE_TIMEOUT: 'soon',
        SESSION_LIMIT_POLICY: 'random',
        COOKIE_SECURE: 'maybe',
        REDIS_URL: 'http://x',
        TRUST_PROXY: 'not-an-ip',
      });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(EnvError);
      const text = (error as EnvError).message;
      for (const name of [
        'PORT',
        'SESSION_IDLE_TIMEOUT',
        'SESSION_LIMIT_POLICY',
        'COOKIE_SECURE',
        'REDIS_URL',
        'TRUST_PROXY',
      ]) {
        expect(text).toContain(`${name}:`);
      }
    }
    expect(() => parseEnv({ SESSION_IDLE_TIMEOUT: '2h', SESSION_ABSOLUTE_TIMEOUT: '1h' })).toThrow(
      /must not exceed/,
    );
    expect(() => parseEnv({ REDIS_URL: 'redis://a', REDIS_CLUSTER_NODES: 'b:1' })).toThrow(/not both/);
    expect(() => parseEnv({ APP_ORIGIN: 'https://app.example.com/path' })).toThrow(/origin only/);
  });

  it('every variable is in .env.example and the README', () => {
    const example = readFileSync(new URL('../.env.example', import.meta.url), 'utf8');
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    for (const name of ENV_VARIABLES) {
      expect(example, name).toMatch(new RegExp(`^#? ?${name}=`, 'm'));
      expect(readme, name).toContain(`\`${name}\``);
    }
  });
});

describe('checkPassword', () => {
  it.each([
    ['correct horse battery staple 7', true],
    ['ünïcödé pässwörd ✓', true],
    ['short', false],
    ['x'.repeat(129), false],
    ['x'.repeat(128), false], // one repeated character
    ['y'.repeat(64) + 'z'.repeat(64), true],
    ['Password1234', false],
    ['qwertyuiop123', false],
    ['alice.smith@example.com', false],
    ['alicesmith!!!', false],
    // From zxcvbn's breach-frequency list (not in the curated one): case doesn't help.
    ['123456654321', false],
    ['LeaveMeAlone', false],
    ['sonyericsson', false],
  ])('%s -> %s', (password, ok) => {
    expect(checkPassword(password, { email: 'alice.smith@example.com' }).ok).toBe(ok);
  });

  it('counts characters, not bytes', () => {
    expect(checkPassword('🔒🔑'.repeat(6)).ok).toBe(true);
    expect(checkPassword(`${'🔒🔑'.repeat(5)}🔒`).ok).toBe(false);
  });
});

describe('TOTP', () => {
  it('accepts the current and adjacent steps and reports which', () => {
    const secret = newTotpSecret();
    const now = 1_700_000_015_000;
    const step = Math.floor(now / 30_000);
    expect(matchTotp(secret, totpCode(secret, now), now)).toBe(step);
    expect(matchTotp(secret, totpCode(secret, now - 30_000), now)).toBe(step - 1);
    expect(matchTotp(secret, totpCode(secret, now + 30_000), now)).toBe(step + 1);
    expect(matchTotp(secret, totpCode(secret, now + 90_000), now)).toBeNull();
    expect(matchTotp(secret, 'abcdef', now)).toBeNull();
  });
});
