/**
 * The example over real HTTP on a free port, against a real store: PGlite in a temp directory, or Redis
 * when REDIS_URL is set. The clock is injected so the idle and absolute deadlines (1 and 3 minutes
 * here) and the bound cookie's lifetime (2 minutes, with device binding on as in production) are
 * reached without waiting; everything else is real. `Browser` is a browser without DBSC; `DbscBrowser`
 * (from session-core's ./testing) plays one that binds its sessions to a Web Crypto key.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DbscBrowser } from '@tessera/session-core/testing';
import { createApp } from '../src/app.js';
import { type OpenSessions, openSessions, type SessionSettings } from '../src/sessions.js';
import { createUsers, type Users } from '../src/users.js';
import { Browser } from './browser.js';

const PASSWORD = 'correct horse battery staple';
const MINUTE = 60_000;
const SESSION_COOKIE = '__Host-tessera';
const BOUND_COOKIE = '__Host-tessera-bound';
let now = Date.now();
const dirs: string[] = [];
const closers: (() => Promise<void>)[] = [];
let users: Users;

/** The app on a free port over its own store; `settings` override the short test deadlines. */
async function start(settings: SessionSettings = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'example-express-'));
  dirs.push(dataDir);
  // Listening first: the origin, free port included, is one of the manager's settings.
  let handle: RequestListener = (_req, res) => void res.writeHead(503).end();
  const server = createServer((req, res) => handle(req, res)).listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  closers.push(() => new Promise((resolve) => server.close(() => resolve())));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const opened: OpenSessions = await openSessions({
    idleTimeout: '1m',
    absoluteTimeout: '3m',
    maxSessionsPerUser: 2,
    deviceBinding: { origin: url, boundCookieTtl: '2m' }, // 2m: the shortest Chrome allows
    clock: () => now,
    dataDir,
    ...(process.env.REDIS_URL
      ? {
          redisUrl: process.env.REDIS_URL,
          tagSecret: randomBytes(32),
          redisPrefix: `example-express-${randomBytes(4).toString('hex')}:`,
        }
      : {}),
    ...settings,
  });
  closers.push(() => opened.close());
  handle = createApp({ ...opened, users });
  return {
    url,
    opened,
    browser: () => new Browser(url),
    /** A browser with DBSC (`dbsc: false`: one without, which ignores the registration header). */
    dbscBrowser: (dbsc = true) => new DbscBrowser({ fetch, origin: url, clock: () => now, dbsc }),
  };
}

let app: Awaited<ReturnType<typeof start>>;
/** One account per test, so that no test's sessions count against another's limit. */
const NAMES = [
  'cookie',
  'fixation',
  'lists',
  'other',
  'logout',
  'idle',
  'absolute',
  'limit',
  'reject',
  'down',
  'bound',
  'plain',
];
const email = (name: (typeof NAMES)[number]) => `${name}@example.com`;
const signIn = async (name: (typeof NAMES)[number], b = app.browser()) => {
  const res = await b.request('POST', '/login', { email: email(name), password: PASSWORD });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return b;
};

/** Signs in through a DbscBrowser, which answers the registration header itself when it speaks DBSC. */
const dbscSignIn = async (name: (typeof NAMES)[number], b: DbscBrowser) => {
  const res = await b.request('/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: email(name), password: PASSWORD }),
  });
  assert.equal(res.status, 200, await res.text());
  return res;
};

before(async () => {
  // A cheap scrypt cost for the test only; the app's default is OWASP's.
  users = await createUsers(
    NAMES.map((name) => ({ email: email(name), password: PASSWORD })),
    { N: 2 ** 12, r: 8, p: 1 },
  );
  app = await start();
});

after(async () => {
  for (const close of closers) await close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe(`express example (${process.env.REDIS_URL ? 'redis' : 'pglite'})`, () => {
  it('sign-in: wrong password and unknown email get the same 401, and no cookie', async () => {
    for (const address of [email('cookie'), 'nobody@example.com']) {
      const b = app.browser();
      const res = await b.request('POST', '/login', { email: address, password: 'wrong password' });
      assert.deepEqual([res.status, res.body], [401, { reason: 'invalid_credentials' }]);
      assert.equal(b.cookies.size, 0);
    }
  });

  it('sign-in sets an HttpOnly, Secure, SameSite=Lax host cookie; the protected route needs it', async () => {
    const anonymous = await app.browser().request('GET', '/me');
    assert.deepEqual([anonymous.status, anonymous.body], [401, { reason: 'missing' }]);

    const b = await signIn('cookie');
    assert.match(
      b.lastSetCookie[0] ?? '',
      /^__Host-tessera=[\w-]+\.[\w-]+; Path=\/; HttpOnly; Secure; SameSite=Lax$/,
    );
    const me = await b.request<{ user: { email: string } }>('GET', '/me');
    assert.equal(me.status, 200);
    assert.equal(me.body.user.email, email('cookie'));
  });

  it('signing in again ends the session the browser carried (fixation)', async () => {
    const b = await signIn('fixation');
    const earlier = b.clone();
    await signIn('fixation', b);
    assert.deepEqual((await earlier.request('GET', '/me')).body, { reason: 'logged_out' });
    assert.equal((await b.request('GET', '/me')).status, 200);
  });

  it('lists my sessions and revokes another one; not someone else’s', async () => {
    const laptop = await signIn('lists');
    const phone = await signIn('lists');
    const list = await laptop.request<{ id: string; current: boolean; userAgent: string }[]>(
      'GET',
      '/sessions',
    );
    const sessions = list.body;
    assert.equal(sessions.length, 2);
    assert.equal(sessions.filter((s) => s.current).length, 1);
    assert.equal(sessions[0]?.userAgent, 'Mozilla/5.0 (test)');
    const other = sessions.find((s) => !s.current)!;

    const someoneElse = await signIn('other');
    assert.equal((await someoneElse.request('DELETE', `/sessions/${other.id}`)).status, 404);
    assert.equal((await phone.request('GET', '/me')).status, 200);

    assert.equal((await laptop.request('DELETE', `/sessions/${other.id}`)).status, 204);
    const revoked = await phone.request('GET', '/me');
    assert.deepEqual([revoked.status, revoked.body], [401, { reason: 'revoked' }]);
    assert.equal(phone.cookies.size, 0, 'the dead cookie is cleared');
    assert.equal((await laptop.request('DELETE', `/sessions/${other.id}`)).status, 404);
  });

  it('logout ends the session on the server: the cookie is cleared and a copy of it is dead', async () => {
    const b = await signIn('logout');
    const stolen = b.clone();
    assert.equal((await b.request('POST', '/logout')).status, 200);
    assert.equal(b.cookies.size, 0);
    assert.deepEqual((await stolen.request('GET', '/me')).body, { reason: 'logged_out' });
  });

  it('idle timeout: a minute without a request ends the session', async () => {
    const b = await signIn('idle');
    now += MINUTE - 1;
    assert.equal((await b.request('GET', '/me')).status, 200, 'activity slides the idle deadline');
    now += MINUTE - 1;
    assert.equal((await b.request('GET', '/me')).status, 200);
    now += MINUTE;
    const res = await b.request('GET', '/me');
    assert.deepEqual([res.status, res.body], [401, { reason: 'idle_timeout' }]);
    assert.equal(b.cookies.size, 0);
  });

  it('absolute timeout: three minutes after sign-in the session ends, however active', async () => {
    const b = await signIn('absolute');
    const deadline = now + 3 * MINUTE;
    while (now + 40_000 < deadline) {
      now += 40_000;
      assert.equal((await b.request('GET', '/me')).status, 200);
    }
    now = deadline;
    assert.deepEqual((await b.request('GET', '/me')).body, { reason: 'absolute_timeout' });
  });

  it('the per-user limit (2): a third sign-in evicts the least recently active session', async () => {
    const first = await signIn('limit');
    now += 1000;
    const second = await signIn('limit');
    now += 1000;
    assert.equal((await first.request('GET', '/me')).status, 200); // first is now the more recent
    now += 1000;
    const third = await signIn('limit');
    assert.deepEqual((await second.request('GET', '/me')).body, { reason: 'evicted' });
    assert.equal((await first.request('GET', '/me')).status, 200);
    assert.equal((await third.request<unknown[]>('GET', '/sessions')).body.length, 2);
  });

  it("the limit under onLimit: 'reject': 409 with the live sessions, no cookie", async () => {
    const strict = await start({ maxSessionsPerUser: 1, onLimit: 'reject' });
    await signIn('reject', strict.browser());
    const other = strict.browser();
    const res = await other.request<{ sessions: unknown[] }>('POST', '/login', {
      email: email('reject'),
      password: PASSWORD,
    });
    assert.equal(res.status, 409);
    assert.equal(res.body.sessions.length, 1);
    assert.equal(other.cookies.size, 0);
  });

  it('device binding (DBSC): sign-in binds, the browser renews its bound cookie, a copied session cookie alone is refused', async () => {
    const b = app.dbscBrowser();
    const login = await dbscSignIn('bound', b);
    assert.match(
      login.headers.get('secure-session-registration') ?? '',
      /^\(ES256 RS256\);path="\/dbsc\/register";challenge="[\w-]{43}"$/,
    );
    const id = b.cookie(SESSION_COOKIE)?.split('.')[0];
    assert.deepEqual(b.events, [{ type: 'registered', id, status: 200 }]);
    assert.ok(b.cookie(BOUND_COOKIE), 'the registration answer set the bound cookie');
    const listed = await b.request('/sessions');
    assert.equal(listed.status, 200);
    assert.equal(((await listed.json()) as { deviceBoundAt: number | null }[])[0]?.deviceBoundAt, now);

    // An infostealer copies the session cookie without the bound one: past the 10 s in which requests
    // already in flight at binding pass, it is refused, nothing is cleared, and the owner goes on.
    const thief = b.steal();
    thief.cookies.delete(BOUND_COOKIE);
    now += 10_000;
    const refused = await thief.request('/me');
    assert.deepEqual([refused.status, await refused.json()], [401, { reason: 'device_unbound' }]);
    assert.deepEqual(refused.headers.getSetCookie(), []);
    assert.equal((await b.request('/me')).status, 200);

    // A copy of both cookies works only until the bound cookie expires, even sent on past its Max-Age:
    // the server keeps it for 2 minutes after binding plus 30 s for requests in flight. The owner's
    // browser renews it once it has expired there: a 403 challenge, then the answer signed with its key.
    const copy = b.steal();
    copy.cookies.get(BOUND_COOKIE)!.expiresAt = null; // a thief's jar needn't honour Max-Age
    for (let i = 0; i < 3; i++) {
      now += 40_000; // within the 1-minute idle timeout
      assert.equal((await b.request('/me')).status, 200);
      assert.equal((await copy.request('/me')).status, 200);
    }
    assert.deepEqual(b.events.slice(1), [
      { type: 'challenged', id },
      { type: 'refreshed', id },
    ]);
    now += 30_000; // 160 s after binding
    const late = await copy.request('/me');
    assert.deepEqual([late.status, await late.json()], [401, { reason: 'device_unbound' }]);
    assert.equal((await b.request('/me')).status, 200);

    // Logout clears both cookies; the browser's next refresh learns the session ended.
    const out = await b.request('/logout', { method: 'POST' });
    assert.equal(out.status, 200);
    assert.deepEqual([b.cookie(SESSION_COOKIE), b.cookie(BOUND_COOKIE)], [null, null]);
    assert.equal(await b.refresh(id!), 200);
    assert.deepEqual(b.events.at(-1), { type: 'terminated', id });
  });

  it('device binding (DBSC): a browser without it ignores the registration and keeps a plain session', async () => {
    const b = app.dbscBrowser(false);
    const login = await dbscSignIn('plain', b);
    assert.ok(login.headers.get('secure-session-registration'), 'offered, and ignored');
    assert.deepEqual([b.events, b.cookie(BOUND_COOKIE)], [[], null]);
    for (let i = 0; i < 4; i++) {
      now += 40_000; // past the grace and past a bound cookie's lifetime: no bound cookie needed
      assert.equal((await b.request('/me')).status, 200);
    }
    const listed = await b.request('/sessions');
    assert.equal(((await listed.json()) as { deviceBoundAt: number | null }[])[0]?.deviceBoundAt, null);
  });

  it('the store is down: 503, never "signed out"', async () => {
    const b = await signIn('down');
    const down = await start(process.env.REDIS_URL ? { redisUrl: 'redis://127.0.0.1:1' } : {});
    if (!process.env.REDIS_URL) await down.opened.close(); // a closed PGlite: every query fails
    const copy = down.browser();
    for (const [name, value] of b.cookies) copy.cookies.set(name, value);
    const res = await copy.request('GET', '/me');
    assert.deepEqual([res.status, res.body], [503, { error: 'session store unavailable' }]);
    assert.equal(copy.lastSetCookie.length, 0);
  });
});
