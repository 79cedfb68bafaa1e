import { describe, expect, it } from 'vitest';
import { readCookie, serializeCookie } from '../src/cookie.js';
import { SessionConfigError } from '../src/errors.js';
import type { SessionEvent } from '../src/events.js';
import { getSession, handleDeviceBinding, writeCookie } from '../src/http/web.js';
import { createSessionManager, type SessionManager } from '../src/manager.js';
import type { DeviceBindingOptions } from '../src/options.js';
import type { SessionStore } from '../src/store.js';
import { memoryStore } from '../src/stores/memory.js';
import { DbscBrowser, makeDbscKey, signDbscProof } from '../src/testing/dbsc-browser.js';

/**
 * The manager's DBSC endpoints end to end, in process: a tiny app on Fetch `Request`/`Response` (the
 * `./web` helpers) and the test browser of `./testing`, on a fake clock. The store is the memory one;
 * the same rules on Redis, PostgreSQL and PGlite are the contract suite's and the server's tests'.
 */

const M = 60_000;
const ORIGIN = 'https://app.example';

function setup(binding: Partial<DeviceBindingOptions> | null = {}, store: SessionStore = memoryStore()) {
  let now = 1_700_000_000_000;
  const events: SessionEvent[] = [];
  const sessions = createSessionManager({
    store,
    clock: () => now,
    onEvent: (e) => events.push(e),
    ...(binding ? { deviceBinding: { origin: ORIGIN, ...binding } } : {}),
  });
  const app = appFor(sessions);
  const browser = (options: { dbsc?: boolean; quoteHeaders?: boolean } = {}) =>
    new DbscBrowser({ fetch: app, origin: ORIGIN, clock: () => now, ...options });
  return { sessions, events, browser, app, advance: (ms: number) => (now += ms), now: () => now };
}

/** `/login` signs `u1` in (registration header included), `/me` needs a session, DBSC paths in front. */
function appFor(sessions: SessionManager) {
  return async (url: string, init: RequestInit): Promise<Response> => {
    const request = new Request(url, init);
    const dbsc = await handleDeviceBinding(sessions, request, { context: { ip: '198.51.100.7' } });
    if (dbsc) return dbsc;
    const headers = new Headers();
    const path = new URL(url).pathname;
    if (path === '/login') {
      const issued = await sessions.create({ userId: 'u1' });
      writeCookie(headers, issued.cookie);
      if (issued.registration) headers.set('Secure-Session-Registration', issued.registration);
      return new Response('{}', { status: 200, headers });
    }
    const s = await getSession(sessions, request);
    writeCookie(headers, s.setCookie);
    if (!s.session) return Response.json({ reason: s.reason }, { status: 401, headers });
    if (path === '/logout') {
      const out = await sessions.logout(s.token);
      writeCookie(headers, out.cookie);
      if (sessions.deviceBinding) writeCookie(headers, sessions.deviceBinding.blankCookie());
      return new Response(null, { status: 204, headers });
    }
    return Response.json({ id: s.session.id, bound: s.session.deviceBoundAt }, { headers });
  };
}

const reasonOf = async (r: Response) => ((await r.json()) as { reason?: string }).reason;

describe('deviceBinding options', () => {
  it.each<[string, Partial<DeviceBindingOptions>, RegExp]>([
    ['a path in the origin', { origin: 'https://app.example/' }, /not an origin/],
    ['plain http off localhost', { origin: 'http://app.example' }, /https/],
    ['a bound cookie under 2m', { boundCookieTtl: '90s' }, /at least 2m/],
    ['a long grace', { registrationGrace: '5m' }, /at most 1m/],
    ['equal paths', { refreshPath: '/dbsc/register' }, /must differ/],
    ['an unknown algorithm', { algorithms: ['ES384' as never] }, /algorithms/],
    ['the session cookie name', { cookieName: '__Host-tessera' }, /other than the session cookie/],
  ])('refuses %s', (_name, options, message) => {
    expect(() => setup(options)).toThrow(SessionConfigError);
    expect(() => setup(options)).toThrow(message);
  });

  it('refuses a store without the device methods', () => {
    const { bindDevice: _, ...partial } = memoryStore();
    expect(() => setup({}, partial as SessionStore)).toThrow(/lacks bindDevice/);
  });

  it('is off by default: no registration header, no endpoints', async () => {
    const { sessions, browser } = setup(null);
    expect(sessions.deviceBinding).toBeNull();
    const b = browser();
    const login = await b.request('/login');
    expect(login.headers.get('secure-session-registration')).toBeNull();
    // Not an endpoint: the app's own route answers it.
    const r = await b.request('/dbsc/register', { method: 'POST' });
    expect(await r.json()).toMatchObject({ bound: null });
  });
});

describe('registration', () => {
  it('binds the session on sign-in and answers the session configuration', async () => {
    const { sessions, browser, events } = setup();
    const b = browser();
    const login = await b.request('/login');
    const header = login.headers.get('secure-session-registration')!;
    expect(header).toMatch(/^\(ES256 RS256\);path="\/dbsc\/register";challenge="[A-Za-z0-9_-]{43}"$/);
    expect(b.events).toEqual([{ type: 'registered', id: expect.any(String), status: 200 }]);
    const id = b.events[0]!.type === 'registered' ? b.events[0]!.id : '';
    expect(b.cookie('__Host-tessera')!.startsWith(`${id}.`)).toBe(true);
    expect(b.cookie('__Host-tessera-bound')).toMatch(new RegExp(`^${id}\\.`));
    const [listed] = await sessions.list('u1');
    expect(listed!.deviceBoundAt).toBe(listed!.createdAt);
    expect(events.map((e) => e.type)).toEqual(['created', 'device_bound']);
    expect(events[1]).toMatchObject({ algorithm: 'ES256', sessionId: id, context: { ip: '198.51.100.7' } });
  });

  it('serves a configuration whose attributes are the Set-Cookie minus its lifetime', async () => {
    const { browser } = setup();
    const b = browser({ dbsc: false });
    const login = await b.request('/login');
    const challenge = /challenge="([^"]+)"/.exec(login.headers.get('secure-session-registration')!)![1]!;
    const key = await makeDbscKey();
    const r = await b.request('/dbsc/register', {
      method: 'POST',
      headers: { 'Secure-Session-Response': await signDbscProof(key, challenge, true) },
    });
    expect(r.status).toBe(200);
    expect(r.headers.get('cache-control')).toBe('no-store');
    expect(r.headers.get('secure-session-challenge')).toBeNull();
    const config = (await r.json()) as { credentials: { attributes: string }[] };
    const id = b.cookie('__Host-tessera')!.slice(0, 26);
    expect(config).toEqual({
      session_identifier: id,
      refresh_url: '/dbsc/refresh',
      continue: true,
      scope: { origin: ORIGIN, include_site: false },
      credentials: [
        {
          type: 'cookie',
          name: '__Host-tessera-bound',
          attributes: 'Path=/; HttpOnly; Secure; SameSite=Lax',
        },
      ],
      allowed_refresh_initiators: [],
    });
    const [setCookie] = r.headers.getSetCookie();
    expect(setCookie!.replace(/; Max-Age=\d+/, '')).toBe(
      `__Host-tessera-bound=${b.cookie('__Host-tessera-bound')}; ${config.credentials[0]!.attributes}`,
    );
    expect(setCookie).toContain('Max-Age=600');
  });

  it("binds once: a second registration, a used or expired challenge, another session's challenge are 409", async () => {
    const { browser, advance, events } = setup();
    const b = browser({ dbsc: false });
    const header = (await b.request('/login')).headers.get('secure-session-registration')!;
    const other = browser({ dbsc: false });
    const otherHeader = (await other.request('/login')).headers.get('secure-session-registration')!;
    const challengeOf = (h: string) => /challenge="([^"]+)"/.exec(h)![1]!;
    const register = async (who: DbscBrowser, challenge: string) =>
      who.request('/dbsc/register', {
        method: 'POST',
        headers: { 'Secure-Session-Response': await signDbscProof(await makeDbscKey(), challenge, true) },
      });
    // Another session's challenge: refused, and this session stays unbound and working.
    expect((await register(b, challengeOf(otherHeader))).status).toBe(409);
    expect((await b.request('/me')).status).toBe(200);
    expect((await register(b, challengeOf(header))).status).toBe(200);
    const again = await register(b, challengeOf(header));
    expect(again.status).toBe(409);
    expect(await again.json()).toEqual({ error: 'already_bound' });
    expect(events.filter((e) => e.type === 'device_refused').map((e) => e.refusal)).toEqual([
      'bad_challenge',
      'already_bound',
    ]);
    // Past the challenge's 15 minutes the sign-in's challenge is worthless.
    advance(15 * M);
    await other.request('/me');
    expect((await register(other, challengeOf(otherHeader))).status).toBe(409);
  });

  it('refuses malformed and badly signed proofs with 400 and leaves the session unbound', async () => {
    const { browser, sessions } = setup();
    const b = browser({ dbsc: false });
    const header = (await b.request('/login')).headers.get('secure-session-registration')!;
    const challenge = /challenge="([^"]+)"/.exec(header)![1]!;
    const good = await signDbscProof(await makeDbscKey(), challenge, true);
    const [h, p, s] = good.split('.');
    const noneAlg = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'dbsc+jwt' })).toString('base64url')}.${p}.`;
    for (const proof of [undefined, 'x', `${h}.${p}.${s!.slice(0, -4)}AAAA`, noneAlg, `${h}.${p}`]) {
      const r = await b.request('/dbsc/register', {
        method: 'POST',
        headers: proof === undefined ? {} : { 'Secure-Session-Response': proof },
      });
      expect(r.status, String(proof)).toBe(400);
    }
    expect((await sessions.list('u1'))[0]!.deviceBoundAt).toBeNull();
    expect((await b.request('/me')).status).toBe(200);
  });

  it('needs a live session: 401 without a cookie', async () => {
    const { app } = setup();
    const r = await app(`${ORIGIN}/dbsc/register`, { method: 'POST' });
    expect(r.status).toBe(401);
  });

  it('answers only POST, and refuses a cross-site request', async () => {
    const { app } = setup();
    const get = await app(`${ORIGIN}/dbsc/refresh`, { method: 'GET' });
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
    const cross = await app(`${ORIGIN}/dbsc/refresh`, {
      method: 'POST',
      headers: { 'Sec-Fetch-Site': 'cross-site' },
    });
    expect(cross.status).toBe(400);
  });
});

describe('a bound session', () => {
  async function bound(options: Partial<DeviceBindingOptions> = {}) {
    const env = setup(options);
    const b = env.browser();
    await b.request('/login');
    const id = b.cookie('__Host-tessera')!.slice(0, 26);
    return { ...env, b, id };
  }

  it('needs a fresh bound cookie: the browser refreshes (403, then 200) and goes on', async () => {
    const { b, advance, id } = await bound();
    advance(10 * M);
    expect(b.cookie('__Host-tessera-bound')).toBeNull();
    const me = await b.request('/me');
    expect(me.status).toBe(200);
    expect(b.events.slice(1)).toEqual([
      { type: 'challenged', id },
      { type: 'refreshed', id },
    ]);
    // The 200 carried the next challenge: the next refresh needs no 403.
    advance(10 * M);
    expect((await b.request('/me')).status).toBe(200);
    expect(b.events.slice(3)).toEqual([{ type: 'refreshed', id }]);
  });

  it('refuses a request without the bound cookie after the grace, without clearing or touching anything', async () => {
    const { b, advance, sessions } = await bound({ registrationGrace: '10s' });
    const plain = b.steal();
    plain.cookies.delete('__Host-tessera-bound');
    advance(9_999);
    expect((await plain.request('/me')).status).toBe(200);
    const before = (await sessions.list('u1'))[0]!.lastActivityAt;
    advance(1);
    const refused = await plain.request('/me');
    expect(refused.status).toBe(401);
    expect(await reasonOf(refused)).toBe('device_unbound');
    expect(refused.headers.getSetCookie()).toEqual([]);
    expect((await sessions.list('u1'))[0]!.lastActivityAt).toBe(before);
    expect((await b.request('/me')).status).toBe(200);
  });

  it('a thief with both cookies works until the bound cookie expires, then cannot refresh', async () => {
    const { b, advance, events, id } = await bound();
    const thief = b.steal();
    advance(5 * M);
    expect((await thief.request('/me')).status).toBe(200);
    advance(5 * M + 30_000);
    const refused = await thief.request('/me');
    expect(refused.status).toBe(401);
    expect(await reasonOf(refused)).toBe('device_unbound');
    // It can get a challenge (it holds the session cookie) but has no key to sign it with...
    const first = await thief.sendProof(id, null);
    expect(first.status).toBe(403);
    const challenge = /^"([^"]+)"/.exec(first.headers.get('secure-session-challenge')!)![1]!;
    // ...and a proof by a key of its own is refused and recorded.
    const foreign = await thief.sendProof(id, await signDbscProof(await makeDbscKey(), challenge, false));
    expect(foreign.status).toBe(400);
    expect(foreign.headers.getSetCookie()).toEqual([]);
    expect(events.at(-1)).toMatchObject({ type: 'device_refused', refusal: 'foreign_key', sessionId: id });
    // The owner's device refreshes as usual.
    expect((await b.request('/me')).status).toBe(200);
  });

  it('a replayed proof gets a new challenge and never a cookie; one of many concurrent copies wins', async () => {
    const { b, advance, id } = await bound();
    advance(10 * M);
    await b.request('/me');
    const proof = b.lastProof!;
    const replay = await b.sendProof(id, proof);
    expect(replay.status).toBe(403);
    expect(replay.headers.getSetCookie()).toEqual([]);
    // A fresh challenge, signed once, posted twenty times at once.
    const challenge = /^"([^"]+)"/.exec(replay.headers.get('secure-session-challenge')!)![1]!;
    const fresh = await signDbscProof(b.sessions.get(id)!.key, challenge, false);
    const answers = await Promise.all(Array.from({ length: 20 }, () => b.sendProof(id, fresh)));
    expect(answers.filter((r) => r.status === 200)).toHaveLength(1);
    expect(answers.filter((r) => r.status === 403)).toHaveLength(19);
  });

  it('keeps the previous bound cookie until its own expiry after a refresh', async () => {
    const { b, advance } = await bound();
    const old = b.steal(); // holds the first bound cookie
    advance(9 * M);
    await b.refresh(b.sessions.keys().next().value!);
    expect((await old.request('/me')).status).toBe(200);
    advance(1 * M + 30_000);
    expect((await old.request('/me')).status).toBe(401);
    expect((await b.request('/me')).status).toBe(200);
  });

  it.each([
    [
      'logout',
      async (e: Awaited<ReturnType<typeof bound>>) => void (await e.b.steal().request('/logout')),
      'logged_out',
    ],
    [
      'revoke',
      async (e: Awaited<ReturnType<typeof bound>>) => void (await e.sessions.revoke('u1', e.id)),
      'revoked',
    ],
    [
      'revokeAll after a password change',
      async (e: Awaited<ReturnType<typeof bound>>) =>
        void (await e.sessions.revokeAll('u1', { reason: 'password_changed' })),
      'password_changed',
    ],
    [
      'the idle deadline',
      async (e: Awaited<ReturnType<typeof bound>>) => void e.advance(30 * M),
      'idle_timeout',
    ],
  ])(
    'after %s a refresh ends the browser session (continue: false) and the request learns why',
    async (_n, end, reason) => {
      const e = await bound();
      e.advance(9 * M);
      await e.b.request('/me');
      await end(e);
      e.advance(2 * M);
      const r = await e.b.request('/me');
      expect(e.b.events.at(-1)).toEqual({ type: 'terminated', id: e.id });
      expect(e.b.sessions.size).toBe(0);
      expect(r.status).toBe(401);
      // The refresh cleared the bound cookie only: the request released after it carried the session
      // cookie, learned why the session ended, and that answer cleared it.
      expect(await reasonOf(r)).toBe(reason);
      expect(e.b.cookie('__Host-tessera')).toBeNull();
      expect(e.b.cookie('__Host-tessera-bound')).toBeNull();
    },
  );

  it('a refresh checks the absolute deadline and never slides the idle clock', async () => {
    const { b, advance, sessions, id } = await bound();
    advance(29 * M);
    const before = (await sessions.list('u1'))[0]!.lastActivityAt;
    expect(await b.refresh(id)).toBe(200);
    expect((await sessions.list('u1'))[0]!.lastActivityAt).toBe(before);
    // A refresh alone doesn't keep the session alive: the idle deadline is counted from the last request.
    advance(1 * M);
    expect(await b.refresh(id)).toBe(200);
    expect(b.events.at(-1)).toEqual({ type: 'terminated', id });
  });

  it('caps the bound cookie at the absolute deadline', async () => {
    const { b, advance, now, id } = await bound({ boundCookieTtl: '10m' });
    for (let i = 0; i < 57; i++) {
      advance(25 * M);
      expect((await b.request('/me')).status).toBe(200);
    }
    advance(10 * M); // 24h - 5m since sign-in
    expect(await b.refresh(id)).toBe(200);
    expect(b.cookies.get('__Host-tessera-bound')!.expiresAt! - now()).toBe(5 * M);
  });

  it('answers a refresh for another or no session with continue: false and writes nothing', async () => {
    const { b, app, id } = await bound();
    const other = await app(`${ORIGIN}/dbsc/refresh`, {
      method: 'POST',
      headers: { 'Sec-Secure-Session-Id': 'Z'.repeat(26), cookie: b.cookieHeader() },
    });
    expect(other.status).toBe(200);
    expect(await other.json()).toEqual({ session_identifier: 'Z'.repeat(26), continue: false });
    // The bound cookie's name is shared by every session of the browser: not this session's to clear.
    expect(other.headers.getSetCookie()).toEqual([]);
    const none = await app(`${ORIGIN}/dbsc/refresh`, {
      method: 'POST',
      headers: { 'Sec-Secure-Session-Id': `"${id}"` },
    });
    expect(await none.json()).toEqual({ session_identifier: id, continue: false });
    expect((await b.request('/me')).status).toBe(200);
  });

  it('works with quoted headers (the spec) as with raw ones (Chromium)', async () => {
    const env = setup();
    const b = env.browser({ quoteHeaders: true });
    await b.request('/login');
    env.advance(10 * M);
    expect((await b.request('/me')).status).toBe(200);
    expect(b.events.map((e) => e.type)).toEqual(['registered', 'challenged', 'refreshed']);
  });

  it('turning deviceBinding off later fails closed for sessions that bound', async () => {
    const store = memoryStore();
    const on = setup({}, store);
    const b = on.browser();
    await b.request('/login');
    const off = createSessionManager({ store, clock: on.now });
    const cookie = readCookie(b.cookieHeader(), '__Host-tessera');
    const result = await off.validate(cookie.status === 'found' ? cookie.value : null);
    expect(result.session).toBeNull();
    expect(result.session === null && result.reason).toBe('device_unbound');
  });
});

describe('browsers without DBSC', () => {
  it('keep a plain session for its whole life', async () => {
    const { browser, advance, sessions } = setup();
    const b = browser({ dbsc: false });
    await b.request('/login');
    for (let i = 0; i < 5; i++) {
      advance(20 * M);
      expect((await b.request('/me')).status).toBe(200);
    }
    expect((await sessions.list('u1'))[0]!.deviceBoundAt).toBeNull();
    expect(serializeCookie(sessions.blankCookie())).toContain('Max-Age=0');
  });
});

describe('./node handleDeviceBinding, over real HTTP', () => {
  it('registers and refreshes through a node:http server', async () => {
    const { createServer } = await import('node:http');
    const node = await import('../src/http/node.js');
    let now = 1_700_000_000_000;
    const sessions = createSessionManager({
      store: memoryStore(),
      clock: () => now,
      cookie: { secure: false },
      deviceBinding: { origin: 'http://127.0.0.1' },
    });
    const server = createServer(async (req, res) => {
      if (await node.handleDeviceBinding(sessions, req, res)) return;
      if (req.url === '/login') {
        const issued = await sessions.create({ userId: 'u1' });
        node.writeCookie(res, issued.cookie);
        res.setHeader('Secure-Session-Registration', issued.registration!);
        res.end('{}');
        return;
      }
      const s = await node.getSession(sessions, req);
      node.writeCookie(res, s.setCookie);
      res.statusCode = s.session ? 200 : 401;
      res.end(JSON.stringify({ reason: s.reason }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    try {
      const b = new DbscBrowser({ fetch, origin: `http://127.0.0.1:${port}`, clock: () => now });
      await b.request('/login');
      expect(b.cookie('tessera-bound')).not.toBeNull();
      now += 11 * M;
      expect((await b.request('/me')).status).toBe(200);
      expect(b.events.map((e) => e.type)).toEqual(['registered', 'challenged', 'refreshed']);
      const thief = b.steal();
      now += 11 * M;
      const refused = await thief.request('/me');
      expect(refused.status).toBe(401);
      expect(await reasonOf(refused)).toBe('device_unbound');
      const get = await fetch(`http://127.0.0.1:${port}/dbsc/refresh?x=1`);
      expect(get.status).toBe(405);
    } finally {
      server.close();
    }
  });
});
