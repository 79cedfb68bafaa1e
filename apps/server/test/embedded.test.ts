/**
 * The embedded mode's single-process rules (a second server or the CLI on the same DATA_DIR refuse
 * with a clear message), the CLI's commands, persistence across restarts, and the one-time demo
 * accounts.
 */
import { rmSync } from 'node:fs';
import { createTestDatabase, type TestDatabase } from '@tessera/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../src/cli.js';
import { compose } from '../src/compose.js';
import { parseEnv } from '../src/env.js';
import { DataDirLockedError } from '../src/infra/data-dir-lock.js';
import { freshDataDir, PASSWORD, startApp, TEST_ARGON2, uniqueEmail } from './helpers/app.js';

const configFor = (dataDir: string, extra: Record<string, string> = {}) =>
  parseEnv({ NODE_ENV: 'test', LOG_LEVEL: 'silent', DATA_DIR: dataDir, ...extra });

async function cli(argv: string[], config: ReturnType<typeof parseEnv>) {
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

describe('one process per DATA_DIR', () => {
  let dir: string;
  beforeAll(() => {
    dir = freshDataDir();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a second server and the CLI refuse while a server runs; all works again after it stops', async () => {
    const email = uniqueEmail();
    const app = await startApp({ dataDir: dir });
    let token: string;
    try {
      await app.createUser(email);
      const c = app.client();
      await c.mutation('auth.login', { email, password: PASSWORD });
      token = c.sessionToken!;

      const second = compose(configFor(dir), { argon2: TEST_ARGON2 });
      await expect(second).rejects.toBeInstanceOf(DataDirLockedError);
      await expect(second).rejects.toThrow(/in use by another Tessera process \(server, pid \d+/);

      const refused = await cli(['sessions', 'list', '--email', email], configFor(dir));
      expect(refused.code).toBe(1);
      expect(refused.err).toMatch(/is in use by another Tessera process/);
      expect(refused.err).toMatch(/DATABASE_URL/);
    } finally {
      await app.stop();
    }

    // The server is gone: the CLI sees the persisted session and can end it.
    const list = await cli(['sessions', 'list', '--email', email], configFor(dir));
    expect(list.code).toBe(0);
    expect(list.out).toContain(token.slice(0, 26));
    expect(list.out).toContain('1 live session');
    expect(list.out).not.toContain(token.split('.')[1]);
    const revoke = await cli(['sessions', 'revoke-all', '--email', email], configFor(dir));
    expect(revoke).toMatchObject({ code: 0, out: `ended 1 session of ${email}` });

    // A restarted server on the same directory: the user persists, the revoked session stays dead.
    const again = await startApp({ dataDir: dir });
    try {
      const old = again.client();
      old.jar.set('__Host-tessera', token);
      expect((await old.query('auth.me')).error?.data.reason).toBe('revoked');
      expect((await again.client().mutation('auth.login', { email, password: PASSWORD })).status).toBe(200);
    } finally {
      await again.stop();
    }
  });
});

describe('CLI', () => {
  let db: TestDatabase;
  let config: ReturnType<typeof parseEnv>;
  beforeAll(async () => {
    db = await createTestDatabase();
    config = parseEnv({ NODE_ENV: 'test', LOG_LEVEL: 'silent', DATABASE_URL: db.url });
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('users create / list / set-role, with the password policy and clear errors', async () => {
    const email = uniqueEmail();
    expect(await cli(['users', 'create', '--email', email, '--password', PASSWORD], config)).toMatchObject({
      code: 0,
    });
    const dup = await cli(
      ['users', 'create', '--email', email.toUpperCase(), '--password', PASSWORD],
      config,
    );
    expect(dup.code).toBe(1);
    expect(dup.err).toMatch(/already exists/);
    const weak = await cli(
      ['users', 'create', '--email', uniqueEmail(), '--password', 'password1234'],
      config,
    );
    expect(weak).toMatchObject({ code: 1, err: expect.stringMatching(/too common/) });
    const admin = await cli(
      ['users', 'create', '--email', uniqueEmail('a'), '--password', PASSWORD, '--role', 'admin'],
      config,
    );
    expect(admin.out).toMatch(/^created admin /);
    expect((await cli(['users', 'list'], config)).out).toContain(email);
    const set = await cli(['users', 'set-role', '--email', email, '--role', 'admin'], config);
    expect(set).toMatchObject({ code: 0, out: `${email} is now admin (0 live sessions updated)` });
    expect((await cli(['users', 'set-role', '--email', email, '--role', 'root'], config)).code).toBe(1);
  });

  it('works beside a running server on PostgreSQL, and its changes apply to live sessions', async () => {
    const app = await startApp({ databaseUrl: db.url });
    try {
      const email = uniqueEmail();
      const c = await app.signedIn(email);
      const r = await cli(['users', 'set-role', '--email', email, '--role', 'admin'], config);
      expect(r.out).toContain('1 live session updated');
      expect((await c.query('admin.listUsers')).status).toBe(200);
      expect((await cli(['sessions', 'revoke-all', '--email', email], config)).out).toBe(
        `ended 1 session of ${email}`,
      );
      expect((await c.query('auth.me')).error?.data.reason).toBe('revoked');
    } finally {
      await app.stop();
    }
  });

  it('usage errors exit with 2 and the usage text', async () => {
    for (const argv of [[], ['users'], ['users', 'delete'], ['users', 'create', '--email']]) {
      const r = await cli(argv, config);
      expect(r.code).toBe(2);
      expect(r.out + r.err).toContain('Usage: pnpm cli');
    }
    expect((await cli(['sessions', 'list', '--email', 'nobody@example.com'], config)).err).toMatch(/no user/);
  });
});

describe('demo accounts', () => {
  it('are created once, on the first embedded start with no users, and work', async () => {
    const dir = freshDataDir();
    try {
      const first = await startApp({ dataDir: dir, compose: { demoUsers: true } });
      let demo: { email: string; password: string; role: string }[];
      try {
        demo = first.runtime.demo!;
        expect(demo.map((d) => [d.email, d.role])).toEqual([
          ['admin@example.com', 'admin'],
          ['user@example.com', 'user'],
        ]);
        for (const d of demo) expect(d.password.length).toBeGreaterThanOrEqual(16);
        const c = first.client();
        expect(
          (await c.mutation('auth.login', { email: demo[0]!.email, password: demo[0]!.password })).status,
        ).toBe(200);
        expect((await c.query('admin.listUsers')).data.users).toHaveLength(2);
      } finally {
        await first.stop();
      }
      const second = await startApp({ dataDir: dir, compose: { demoUsers: true } });
      expect(second.runtime.demo).toBeNull();
      await second.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('are never created with DATABASE_URL', async () => {
    const db = await createTestDatabase();
    try {
      const app = await startApp({ databaseUrl: db.url, compose: { demoUsers: true } });
      expect(app.runtime.demo).toBeNull();
      expect(await app.runtime.deps.users.count()).toBe(0);
      await app.stop();
    } finally {
      await db.drop();
    }
  });
});
