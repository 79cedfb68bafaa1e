/**
 * With Redis, every session id opens with the user's shard tag, keyed with a secret (issue 9, defect
 * 7): SESSION_TAG_SECRET, or one the server generates once into the users database. Every instance
 * sharing that database must agree on it and a restart must keep it, or a user's sessions split over
 * two indexes and the older ones are no longer found by user (listed, limited, ended on a password
 * change). Checked on the embedded PGlite and on PostgreSQL, across a restart.
 */
import { createHash, randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { redisKeys } from '@tessera/session-core/redis';
import { createTestDatabase, startRedis, type TestDatabase, type TestRedis } from '@tessera/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EnvError, parseEnv } from '../src/env.js';
import {
  freshDataDir,
  PASSWORD,
  type StartOptions,
  startApp,
  type TestApp,
  uniqueEmail,
} from './helpers/app.js';
import type { HttpClient } from './helpers/http.js';

let redis: TestRedis;
let db: TestDatabase;
beforeAll(async () => {
  [redis, db] = await Promise.all([startRedis(), createTestDatabase()]);
});
afterAll(async () => {
  await redis?.stop();
  await db?.drop();
});

const unkeyedTag = (userId: string) =>
  createHash('sha256').update(userId).digest().subarray(0, 3).toString('base64url');
const idOf = (c: HttpClient) => c.sessionToken!.slice(0, 26);

async function signIn(app: TestApp, email: string) {
  const c = app.client();
  expect((await c.mutation('auth.login', { email, password: PASSWORD })).status).toBe(200);
  return c;
}

/** The stored generated secret(s), as the users database holds them. */
async function storedSecrets(app: TestApp) {
  return app.runtime.db.query<{ name: string; value: Uint8Array }>(
    'SELECT name, value FROM tessera_server_secrets ORDER BY name',
  );
}

describe.each(['embedded PGlite', 'PostgreSQL'] as const)('%s users database, sessions in Redis', (kind) => {
  let dataDir: string | undefined;
  const options = (): StartOptions => ({
    redisUrl: redis.url,
    ...(kind === 'PostgreSQL' ? { databaseUrl: db.url } : { dataDir }),
  });
  beforeAll(() => {
    if (kind === 'embedded PGlite') dataDir = freshDataDir();
  });
  afterAll(() => {
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('generates the tag secret once, keeps it across a restart, and finds the older sessions by user', async () => {
    const first = await startApp(options());
    const email = uniqueEmail('tag');
    const user = await first.createUser(email);
    const before = await signIn(first, email);
    const [secret, ...others] = await storedSecrets(first);
    expect(others).toEqual([]);
    expect(secret?.name).toBe('session_tag');
    expect(secret?.value.byteLength).toBe(32);
    const tag = idOf(before).slice(0, 4);
    expect(tag).toBe(redisKeys({ tagSecret: secret!.value }).tag(user.id));
    expect(tag).not.toBe(unkeyedTag(user.id));
    await first.stop();

    const second = await startApp(options());
    try {
      expect(await storedSecrets(second)).toEqual([secret]);
      const after = await signIn(second, email);
      expect(idOf(after).slice(0, 4)).toBe(tag);
      const listed = (await after.query('sessions.list')).data as { id: string }[];
      expect(listed.map((s) => s.id).sort()).toEqual([idOf(before), idOf(after)].sort());
      // The session from before the restart is still in the user's index: ending the others ends it.
      expect((await after.mutation('sessions.revokeOthers')).data).toEqual({ revoked: 1 });
      const old = second.client();
      old.jar.set('__Host-tessera', before.sessionToken!);
      expect((await old.query('auth.me')).error?.data.reason).toBe('revoked');
    } finally {
      await second.stop();
    }
  });
});

it('instances starting together on one new database agree on the secret (the first insert wins)', async () => {
  const fresh = await createTestDatabase();
  const apps = await Promise.all(
    Array.from({ length: 3 }, () => startApp({ databaseUrl: fresh.url, redisUrl: redis.url })),
  );
  try {
    const email = uniqueEmail('tag-race');
    await apps[0]!.createUser(email);
    const clients = await Promise.all(apps.map((app) => signIn(app, email)));
    expect(new Set(clients.map((c) => idOf(c).slice(0, 4))).size).toBe(1);
    expect((await storedSecrets(apps[0]!)).length).toBe(1);
    const listed = (await clients[0]!.query('sessions.list')).data as { id: string }[];
    expect(listed.map((s) => s.id).sort()).toEqual(clients.map(idOf).sort());
  } finally {
    await Promise.all(apps.map((app) => app.stop()));
    await fresh.drop();
  }
});

it('SESSION_TAG_SECRET keys the tag instead, and nothing is stored in the database', async () => {
  const tagSecret = randomBytes(48);
  const app = await startApp({
    redisUrl: redis.url,
    env: { SESSION_TAG_SECRET: tagSecret.toString('base64') },
  });
  try {
    const email = uniqueEmail('tag-env');
    const user = await app.createUser(email);
    const c = await signIn(app, email);
    expect(idOf(c).slice(0, 4)).toBe(redisKeys({ tagSecret }).tag(user.id));
    expect(await storedSecrets(app)).toEqual([]);
  } finally {
    await app.stop();
  }
});

it('without Redis, session ids are random: no tag, and no secret is made', async () => {
  const app = await startApp();
  try {
    const email = uniqueEmail('no-tag');
    await app.createUser(email);
    const ids = [idOf(await signIn(app, email)), idOf(await signIn(app, email))];
    expect(ids[0]!.slice(0, 4)).not.toBe(ids[1]!.slice(0, 4));
    expect(await storedSecrets(app)).toEqual([]);
  } finally {
    await app.stop();
  }
});

describe('SESSION_TAG_SECRET parsing', () => {
  const key = randomBytes(32);
  it.each([
    ['base64', key.toString('base64')],
    ['base64 without padding', key.toString('base64').replace(/=+$/, '')],
    ['base64url', key.toString('base64url')],
    ['hex', key.toString('hex')],
    ['upper-case hex', key.toString('hex').toUpperCase()],
  ])('reads %s', (_name, text) => {
    expect(parseEnv({ SESSION_TAG_SECRET: text }).sessionTagSecret).toEqual(key);
  });

  it('is null when unset, and keeps longer secrets whole', () => {
    expect(parseEnv({}).sessionTagSecret).toBeNull();
    const long = randomBytes(64);
    expect(parseEnv({ SESSION_TAG_SECRET: long.toString('hex') }).sessionTagSecret).toEqual(long);
  });

  it.each([
    ['31 bytes', randomBytes(31).toString('base64')],
    ['a passphrase', 'correct horse battery staple, but long enough'],
    ['truncated base64', key.toString('base64url').slice(0, -1)],
    ['odd hex', `${key.toString('hex')}a`],
  ])('refuses %s, without quoting it', (_name, text) => {
    let error: unknown;
    try {
      parseEnv({ SESSION_TAG_SECRET: text });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(EnvError);
    expect((error as EnvError).problems).toEqual([
      'SESSION_TAG_SECRET: must be at least 32 bytes in hex or base64 (make one with: openssl rand -base64 32)',
    ]);
    expect((error as Error).message).not.toContain(text);
  });
});
