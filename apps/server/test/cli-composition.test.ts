/**
 * The CLI opens what its command needs and nothing else: `users create` makes no Redis connection and
 * writes no TOTP key file; a command that ends sessions opens one Redis connection (no pub/sub
 * subscriber) and still publishes the ends, so the servers' live event streams hear of them.
 */
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startRedis, type TestRedis } from '@tessera/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../src/cli.js';
import { compose } from '../src/compose.js';
import { type Config, parseEnv } from '../src/env.js';
import { freshDataDir, PASSWORD, TEST_ARGON2, uniqueEmail } from './helpers/app.js';
import { startTcpProxy, type TcpProxy } from './helpers/tcp-proxy.js';

let redis: TestRedis;
let proxy: TcpProxy;
let dir: string;
let config: Config;

async function cli(argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(
    argv,
    config,
    { out: (l) => out.push(l), err: (l) => err.push(l) },
    { argon2: TEST_ARGON2 },
  );
  return { code, out: out.join('\n'), err: err.join('\n') };
}

beforeAll(async () => {
  redis = await startRedis();
  // Every connection to Redis goes through the proxy, which counts them.
  proxy = await startTcpProxy({ port: redis.port }, { label: 'redis' });
  dir = freshDataDir();
  config = parseEnv({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATA_DIR: dir,
    REDIS_URL: `redis://127.0.0.1:${proxy.port}`,
  });
});
afterAll(async () => {
  await proxy?.close();
  await redis?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the CLI opens what its command needs', () => {
  const email = uniqueEmail();
  const keyFile = () => join(dir, 'secrets', 'totp.key');

  it('users create and users list: no Redis connection, no TOTP key generated', async () => {
    expect(await cli(['users', 'create', '--email', email, '--password', PASSWORD])).toMatchObject({
      code: 0,
      out: expect.stringMatching(/^created user /),
    });
    expect((await cli(['users', 'list'])).out).toContain(email);
    expect(proxy.connections).toBe(0);
    expect(existsSync(keyFile())).toBe(false);
  });

  it('a composition without sessions refuses session calls instead of reaching a store', async () => {
    const runtime = await compose(config, { role: 'cli', sessions: false, argon2: TEST_ARGON2 });
    try {
      await expect(runtime.deps.sessions.list('someone')).rejects.toThrow(/not opened/);
      await expect(runtime.deps.grants.take('mfa', 'x')).rejects.toThrow(/not opened/);
    } finally {
      await runtime.close();
    }
    expect(proxy.connections).toBe(0);
  });

  it('sessions revoke-all: one Redis connection, no subscriber, and the end is still published', async () => {
    // A live session, made by a server-role composition (which closes before the CLI takes the lock).
    const server = await compose(config, { argon2: TEST_ARGON2, demoUsers: false });
    let sessionId: string;
    try {
      const user = (await server.deps.users.findByEmail(email))!;
      sessionId = (await server.deps.sessions.create({ userId: user.id, data: sessionData() })).session.id;
    } finally {
      await server.close();
    }

    const listener = new Redis(redis.url);
    const heard: string[] = [];
    try {
      await listener.subscribe('tessera:events');
      listener.on('message', (_channel: string, message: string) => heard.push(message));
      const before = proxy.connections;
      expect(await cli(['sessions', 'revoke-all', '--email', email])).toMatchObject({
        code: 0,
        out: `ended 1 session of ${email}`,
      });
      expect(proxy.connections - before).toBe(1);
      await expect.poll(() => heard.map((m) => JSON.parse(m).sessionId)).toContain(sessionId);
    } finally {
      listener.disconnect();
    }
    expect(existsSync(keyFile())).toBe(true); // the server-role composition read (made) the keys
  });

  it('mfa keys reads the keys: on a directory without any, it makes the key file', async () => {
    rmSync(join(dir, 'secrets'), { recursive: true, force: true });
    expect(await cli(['mfa', 'keys'])).toMatchObject({
      code: 0,
      out: expect.stringContaining('TOTP secrets are encrypted with keys from the key file'),
    });
    expect(existsSync(keyFile())).toBe(true);
  });
});

const sessionData = () => ({ role: 'user' as const, authAt: Date.now(), mfa: false });
