/**
 * The README's and the guides' code can't rot: every ```ts block is a file of docs/examples, verbatim;
 * those files type-check against the built package (as a consumer imports it) and run, from a scratch
 * project, against a real Redis, PostgreSQL and PGlite: the quick start answers HTTP as it says (503
 * when the store is down), the users table built on the exported SQL executor commits and rolls back,
 * and the third-party store of the guide passes the contract suite under node:test and under vitest.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  createTestDatabase,
  freePort,
  startRedis,
  type TestDatabase,
  type TestRedis,
} from '@tessera/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cleanEnv,
  exampleFiles,
  examplesDir,
  quickStartApp,
  root,
  runNode,
  scratchProject,
  startNode,
  tsBlocks,
  typeErrors,
} from './helpers/docs-examples.js';

const DOCS = [
  'README.md',
  'docs/write-your-own-store.md',
  'docs/migrate-from-express-session.md',
  'docs/migrate-from-lucia.md',
];

describe('docs: every ```ts block is a file of docs/examples', () => {
  const files = exampleFiles();
  const contents = new Map(files.map((file) => [file, readExample(file)]));

  for (const doc of DOCS) {
    it(`${doc}: each block is one of the files, verbatim`, () => {
      const blocks = tsBlocks(join(root, doc));
      expect(blocks.length).toBeGreaterThan(0);
      for (const block of blocks) {
        const file = [...contents].find(([, text]) => text === block)?.[0];
        expect(file, `a block of ${doc} that is no file of docs/examples:\n${block}`).toBeDefined();
      }
    });
  }

  it('each file is shown in a document', () => {
    const shown = new Set(DOCS.flatMap((doc) => tsBlocks(join(root, doc))));
    expect(files.filter((file) => !shown.has(contents.get(file)!))).toEqual([]);
  });

  it('the files type-check against the built package, strict, as a NodeNext consumer', () => {
    expect(typeErrors()).toEqual([]);
  }, 60_000);
});

function readExample(file: string): string {
  return readFileSync(join(examplesDir, file), 'utf8');
}

describe('docs: the examples run', () => {
  let scratch: ReturnType<typeof scratchProject>;
  let redis: TestRedis;
  let database: TestDatabase;
  beforeAll(async () => {
    scratch = scratchProject();
    [redis, database] = await Promise.all([startRedis(), createTestDatabase()]);
  });
  afterAll(async () => {
    await Promise.all([redis?.stop(), database?.drop()]);
    scratch?.remove();
  });

  /** The quick start's server with one sessions.ts variant; `run` talks to it over HTTP. */
  async function withApp(
    variant: string,
    env: Record<string, string>,
    run: (http: Http) => Promise<void>,
  ): Promise<void> {
    const port = await freePort();
    const app = quickStartApp(scratch.dir, variant);
    const server = startNode('server.js', { cwd: app, env: cleanEnv({ ...env, PORT: String(port) }) });
    try {
      await run(http(`http://127.0.0.1:${port}`, () => server.child.exitCode === null));
    } catch (error) {
      throw new Error(`${variant}: ${(error as Error).message}\nserver output:\n${server.output()}`, {
        cause: error,
      });
    } finally {
      await server.stop();
    }
  }

  /** Sign in, a signed-in request, a request without a cookie, logout, the dead cookie. */
  async function lifecycle(h: Http): Promise<string> {
    const cookie = await h.signIn();
    expect(await h.get('/', cookie)).toMatchObject({ status: 200, body: 'hello user-1\n', setCookie: null });
    expect(await h.get('/', null)).toMatchObject({ status: 401, body: 'signed out: missing\n' });
    const out = await h.post('/logout', cookie);
    expect(out).toMatchObject({ status: 200, body: 'signed out\n' });
    expect(out.setCookie).toMatch(/Max-Age=0/);
    const dead = await h.get('/', cookie);
    expect(dead).toMatchObject({ status: 401, body: 'signed out: logged_out\n' });
    expect(dead.setCookie).toMatch(/Max-Age=0/);
    return h.signIn();
  }

  it('quick start over Redis: the lifecycle, then 503 from validate and create while Redis is down', async () => {
    const env = { REDIS_URL: redis.url, SESSION_TAG_SECRET: randomBytes(32).toString('base64') };
    await withApp('sessions', env, async (h) => {
      const cookie = await lifecycle(h);
      await redis.kill();
      expect(await h.get('/', cookie)).toMatchObject({ status: 503 });
      expect(await h.post('/sign-in', null)).toMatchObject({ status: 503 });
      await redis.start();
    });
  }, 60_000);

  it('quick start over PostgreSQL (migrate at boot)', async () => {
    await withApp('sessions-postgres', { DATABASE_URL: database.url }, async (h) => {
      await lifecycle(h);
    });
  }, 60_000);

  it('quick start over PGlite, in a fresh folder (its data directory is made with its parents)', async () => {
    await withApp('sessions-pglite', {}, async (h) => {
      await lifecycle(h);
    });
  }, 120_000);

  it('typed session data: parseData accepts what the app writes', async () => {
    await withApp('sessions-typed', {}, async (h) => {
      await lifecycle(h);
    });
  }, 120_000);

  it('your own tables on the SQL executor: usersTable over PGlite commits a rename, rolls back a failed one', async () => {
    const script = `
      import { PGlite } from '@electric-sql/pglite';
      import { pgliteExecutor } from '@tessera/session-core/pglite';
      import { usersTable } from './users.js';
      const db = await PGlite.create();
      const users = usersTable(pgliteExecutor(db));
      await users.migrate();
      await db.query("INSERT INTO users (id, name) VALUES ('u1', 'Ada')");
      await users.rename('u1', 'Ada L.');
      const missing = await users.rename('nobody', 'x').then(() => 'resolved', (e) => e.message);
      const [{ n }] = (await db.query('SELECT count(*)::int AS n FROM user_events')).rows;
      console.log(JSON.stringify({ user: await users.find('u1'), none: await users.find('u2'), missing, events: n }));
      await db.close();`;
    const run = await runNode(['--input-type=module', '-e', script], {
      cwd: join(scratch.dir, 'own-tables'),
    });
    expect(run.code, run.output).toBe(0);
    expect(JSON.parse(run.output.trim().split('\n').at(-1)!)).toEqual({
      user: { id: 'u1', name: 'Ada L.' },
      none: null,
      missing: 'no user nobody',
      events: 1,
    });
  }, 120_000);

  it('write your own store: the map store passes the contract suite under node:test', async () => {
    // TAP named explicitly: the default reporter without a TTY is TAP on Node 20 and spec on Node 24.
    const run = await runNode(['--test', '--test-reporter=tap', 'map-store.node.test.js'], {
      cwd: join(scratch.dir, 'own-store'),
    });
    // Every test of the suite ran and passed (node:test counts tests, not suites).
    expect(run.output).toMatch(/^# tests (2\d|[3-9]\d)$/m);
    expect(run.output).toMatch(/^# fail 0$/m);
    expect(run.code, run.output).toBe(0);
  }, 120_000);

  it('write your own store: the map store passes the contract suite under vitest', async () => {
    const cli = join(scratch.dir, 'node_modules/vitest/vitest.mjs');
    const cwd = join(scratch.dir, 'own-store');
    const run = await runNode([cli, 'run', 'map-store.vitest.test.js', '--root', cwd], { cwd });
    expect(run.output).toMatch(/Tests\s+(2\d|[3-9]\d) passed/);
    expect(run.code, run.output).toBe(0);
  }, 120_000);
});

interface Reply {
  status: number;
  body: string;
  setCookie: string | null;
}

interface Http {
  get(path: string, cookie: string | null): Promise<Reply>;
  post(path: string, cookie: string | null): Promise<Reply>;
  /** Signs in (retrying while the app starts or its store connects); returns `name=value`. */
  signIn(): Promise<string>;
}

/** `running()` says whether the app's process still runs: a crash fails at once, with its output. */
function http(base: string, running: () => boolean): Http {
  const send = async (method: string, path: string, cookie: string | null): Promise<Reply> => {
    const res = await fetch(base + path, { method, headers: cookie ? { cookie } : {} });
    return { status: res.status, body: await res.text(), setCookie: res.headers.get('set-cookie') };
  };
  return {
    get: (path, cookie) => send('GET', path, cookie),
    post: (path, cookie) => send('POST', path, cookie),
    async signIn() {
      // PGlite's first open takes seconds, more on a busy machine.
      const until = Date.now() + 60_000;
      for (;;) {
        const reply = await send('POST', '/sign-in', null).catch(() => null); // not listening yet
        if (reply?.status === 200 && reply.setCookie) return reply.setCookie.split(';')[0]!;
        if (!running()) throw new Error('the app exited');
        if (Date.now() > until) throw new Error(`sign-in never succeeded: ${JSON.stringify(reply)}`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    },
  };
}
