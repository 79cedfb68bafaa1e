/** The grant store and the rate limiter, against Redis and PostgreSQL: the same semantics on both. */

import { createTestDatabase, startRedis, type TestDatabase, type TestRedis } from '@tessera/testkit';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GrantStore, redisGrantStore, sqlGrantStore } from '../src/auth/grants.js';
import { postgresDatabase } from '../src/infra/database.js';
import { migrate } from '../src/infra/migrations.js';
import {
  type CredentialCounter,
  redisCredentialCounter,
  sqlCredentialCounter,
} from '../src/limits/credential-counter.js';
import { sleep } from './helpers/app.js';

let db: TestDatabase;
let redis: TestRedis;
let pool: pg.Pool;
let client: Redis;
const impls: Record<string, { grants: GrantStore; limiter: CredentialCounter }> = {};

beforeAll(async () => {
  [db, redis] = await Promise.all([createTestDatabase(), startRedis()]);
  pool = new pg.Pool({ connectionString: db.url });
  const database = postgresDatabase(pool);
  await migrate(database);
  client = new Redis(redis.url);
  impls.postgres = { grants: sqlGrantStore(database), limiter: sqlCredentialCounter(database) };
  impls.redis = {
    grants: redisGrantStore(client, 'test:'),
    limiter: redisCredentialCounter(client, 'test:'),
  };
});
afterAll(async () => {
  client?.disconnect();
  await pool?.end();
  await redis?.stop();
  await db?.drop();
});

describe.each(['postgres', 'redis'])('%s', (name) => {
  const grants = () => impls[name]!.grants;
  const limiter = () => impls[name]!.limiter;

  it('attempt counts down to the maximum, then the grant is gone', async () => {
    const token = await grants().issue('mfa', {
      userId: 'u1',
      payload: { a: 1 },
      ttlMs: 60_000,
      maxAttempts: 3,
    });
    for (const n of [1, 2, 3])
      expect(await grants().attempt('mfa', token)).toEqual({ userId: 'u1', payload: { a: 1 }, attempts: n });
    expect(await grants().attempt('mfa', token)).toBeNull();
    expect(await grants().take('mfa', token)).toBeNull();
  });

  it('take is single-use even under concurrency, and kinds do not mix', async () => {
    const token = await grants().issue('limit', { userId: 'u2', payload: {}, ttlMs: 60_000, maxAttempts: 1 });
    expect(await grants().take('mfa', token)).toBeNull();
    const results = await Promise.all(Array.from({ length: 10 }, () => grants().take('limit', token)));
    expect(results.filter(Boolean)).toHaveLength(1);
  });

  it('grants expire', async () => {
    const token = await grants().issue('mfa', { userId: 'u3', payload: {}, ttlMs: 100, maxAttempts: 5 });
    await sleep(150);
    expect(await grants().attempt('mfa', token)).toBeNull();
  });

  it('refuses tokens of the wrong shape without a lookup', async () => {
    expect(await grants().take('mfa', 'short')).toBeNull();
  });

  it('the limiter counts concurrent hits exactly and refunds', async () => {
    const key = `k-${name}-${Date.now()}`;
    const hits = await Promise.all(Array.from({ length: 20 }, () => limiter().hit(key, 10, 60_000)));
    expect(hits.filter((h) => h.allowed)).toHaveLength(10);
    expect(hits.map((h) => h.hits).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 20 }, (_, i) => i + 1),
    );
    await limiter().refund(key);
    expect((await limiter().hit(key, 10, 60_000)).hits).toBe(20);
  });

  it('the window resets', async () => {
    const key = `w-${name}-${Date.now()}`;
    expect((await limiter().hit(key, 1, 100)).allowed).toBe(true);
    expect((await limiter().hit(key, 1, 100)).allowed).toBe(false);
    await sleep(150);
    expect((await limiter().hit(key, 1, 100)).allowed).toBe(true);
  });
});
