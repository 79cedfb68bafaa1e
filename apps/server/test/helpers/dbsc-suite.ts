/**
 * Device-bound sessions (DBSC, issue 13; docs/DBSC.md §5.2) over real HTTP, run against each session
 * store (dbsc.test.ts: embedded PGlite; dbsc-postgres.test.ts, dbsc-redis.test.ts). The browser is
 * session-core's `DbscBrowser` (Web Crypto keys, its own header parsing and JWT building), sending
 * with the global fetch and living on the server's clock: the test advances that clock, so bound
 * cookies, challenges and deadlines pass in test time, not in real time.
 */
import { rmSync } from 'node:fs';
import {
  DbscBrowser,
  type DbscBrowserOptions,
  makeDbscKey,
  signDbscProof,
} from '@tessera/session-core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../src/audit/events.js';
import { totpCode } from '../../src/auth/totp.js';
import { freshDataDir, PASSWORD, type StartOptions, startApp, type TestApp, uniqueEmail } from './app.js';
import { parseSetCookie } from './http.js';
import type { Backend } from './store-suite.js';

/** An origin where browsers bind (https); the server listens on 127.0.0.1 all the same. */
export const DBSC_ORIGIN = 'https://tessera.test';
const SESSION = '__Host-tessera';
const BOUND = '__Host-tessera-bound';
const MINUTE = 60_000;
/** DBSC_BOUND_COOKIE_TTL's default, and how long past it the store still takes the cookie (30 s). */
const BOUND_TTL = 10 * MINUTE;
const PAST_BOUND = BOUND_TTL + 31_000;
/** session-core's default registrationGrace. */
const GRACE = 10_000;
const REGISTRATION = /^\(ES256 RS256\);path="\/dbsc\/register";challenge="[A-Za-z0-9_-]{43}"$/;

// biome-ignore lint/suspicious/noExplicitAny: test responses are checked by assertions, not types
type Loose = any;

export interface Reply {
  status: number;
  data: Loose;
  error: Loose;
  headers: Headers;
  setCookies: string[];
}

async function reply(res: Response): Promise<Reply> {
  const text = await res.text();
  let body: Loose = null;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return {
    status: res.status,
    data: body?.result?.data ?? body,
    error: body?.error,
    headers: res.headers,
    setCookies: res.headers.getSetCookie(),
  };
}

/** A tRPC query as the SPA makes it, through the browser (which refreshes first unless told not to). */
async function query(b: DbscBrowser, path: string, input?: unknown, options: { refresh?: boolean } = {}) {
  const search = input === undefined ? '' : `?input=${encodeURIComponent(JSON.stringify(input))}`;
  return reply(await b.request(`/trpc/${path}${search}`, {}, options));
}

/** A tRPC mutation, likewise. */
async function mutate(b: DbscBrowser, path: string, input?: unknown): Promise<Reply> {
  const init = {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(input ?? null),
  };
  return reply(await b.request(`/trpc/${path}`, init));
}

const sessionIdOf = (b: DbscBrowser) => b.cookie(SESSION)!.slice(0, 26);

/**
 * A refresh as the browser makes it (signing each challenge it is given, its cached one first), but
 * returning the final response, so that the test can read the Set-Cookie the browser only stores.
 */
async function refreshOnce(b: DbscBrowser, id: string): Promise<Response> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const state = b.sessions.get(id)!;
    const proof = state.challenge === null ? null : await signDbscProof(state.key, state.challenge, false);
    state.challenge = null;
    const res = await b.sendProof(id, proof);
    if (res.status !== 403) return res;
  }
  throw new Error(`no refresh of ${id} after 3 challenges`);
}

export function dbscSuite(name: string, backend: Backend) {
  describe(`${name}: device-bound sessions (DBSC) over HTTP`, () => {
    // The server's clock and every browser's: real time plus what the tests skip ahead.
    let skipped = 0;
    const clock = () => Date.now() + skipped;
    const advance = (ms: number) => {
      skipped += ms;
    };
    let app: TestApp;
    let base: StartOptions;

    const browser = (options: Partial<DbscBrowserOptions> = {}) =>
      new DbscBrowser({
        fetch: (url, init) => fetch(url, init),
        origin: app.url,
        clock,
        ...options,
        headers: {
          'sec-fetch-site': 'same-origin',
          'user-agent': 'Mozilla/5.0 (DBSC test)',
          ...options.headers,
        },
      });

    /** A new user signed in with `b` (which registers on its own when it speaks DBSC). */
    async function signIn(
      b: DbscBrowser,
      email = uniqueEmail('dbsc'),
    ): Promise<{ email: string; login: Reply }> {
      await app.createUser(email);
      const login = await mutate(b, 'auth.login', { email, password: PASSWORD });
      expect(login.status, JSON.stringify(login.error)).toBe(200);
      return { email, login };
    }

    /** A user signed in with a DBSC browser that registered. */
    async function bound(options: Partial<DbscBrowserOptions> = {}) {
      const b = browser(options);
      const { email, login } = await signIn(b);
      expect(
        b.events.filter((e) => e.type === 'registered'),
        JSON.stringify(b.events),
      ).toHaveLength(1);
      const id = sessionIdOf(b);
      const userId = (await query(b, 'auth.me')).data.user.id as string;
      return { b, email, login, id, userId };
    }

    const stored = async (userId: string, id: string) =>
      (await app.runtime.deps.sessions.list(userId)).find((s) => s.id === id) ?? null;

    async function auditOf(userId: string, type: string): Promise<AuditEvent[]> {
      await app.runtime.deps.audit.flush();
      const page = await app.runtime.deps.audit.list({ userId, limit: 100 });
      return page.events.filter((e) => e.type === type);
    }

    /** POST to a DBSC endpoint with exactly these headers (and the browser's cookies). */
    const post = (b: DbscBrowser, path: string, headers: Record<string, string>, method = 'POST') =>
      fetch(`${app.url}${path}`, { method, headers: { cookie: b.cookieHeader(), ...headers } });

    /** The app over the suite's storage, with device binding on (or as `env` says). */
    const start = (env: Record<string, string> = {}) =>
      startApp({
        ...base,
        env: {
          ...base.env,
          APP_ORIGIN: DBSC_ORIGIN,
          DBSC: 'on',
          SESSION_LIMIT_POLICY: 'reject',
          SESSION_ABSOLUTE_TIMEOUT: '2h',
          ...env,
        },
        compose: { clock },
      });

    beforeAll(async () => {
      base = await backend.options();
      // Embedded: a data dir of the suite's own, so that a second app can open it after the first.
      if (!base.databaseUrl) base = { ...base, dataDir: freshDataDir() };
      app = await start();
    });
    afterAll(async () => {
      await app?.stop();
      if (base?.dataDir) rmSync(base.dataDir, { recursive: true, force: true });
      await backend.cleanup?.();
    });

    describe('registration', () => {
      it('the sign-in response offers it; registering returns the session configuration and the bound cookie', async () => {
        // A browser that doesn't answer the offer by itself, so that the test can read the exchange.
        const b = browser({ dbsc: false });
        const { login } = await signIn(b);
        const offer = login.headers.get('secure-session-registration');
        expect(offer).toMatch(REGISTRATION);
        const id = sessionIdOf(b);
        const userId = (await query(b, 'auth.me')).data.user.id;
        expect((await stored(userId, id))?.deviceBoundAt).toBeNull();
        const listed = (await query(b, 'sessions.list')).data;
        expect(listed[0].deviceBoundAt).toBeNull();

        const before = clock();
        const res = (await b.register(offer!))!;
        expect(res.status).toBe(200);
        expect(res.headers.get('cache-control')).toBe('no-store');
        expect(res.headers.get('content-type')).toMatch(/^application\/json/);
        expect(res.headers.get('cross-origin-resource-policy')).toBe('same-origin');
        expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
        expect([...res.headers.keys()].filter((h) => h.startsWith('access-control-'))).toEqual([]);
        const config: Loose = await res.json();
        expect(config).toMatchObject({
          session_identifier: id,
          refresh_url: '/dbsc/refresh',
          continue: true,
          scope: { origin: DBSC_ORIGIN, include_site: false },
          credentials: [{ type: 'cookie', name: BOUND }],
        });
        const [setCookie] = res.headers.getSetCookie();
        const cookie = parseSetCookie(setCookie!);
        expect(cookie.name).toBe(BOUND);
        expect(cookie.value).toMatch(new RegExp(`^${id}\\.[A-Za-z0-9_-]{43}$`));
        expect(cookie.attributes['max-age']).toBe(String(BOUND_TTL / 1000));
        const withoutMaxAge = setCookie!
          .split('; ')
          .slice(1)
          .filter((a) => !/^max-age=/i.test(a))
          .join('; ');
        expect(config.credentials[0].attributes).toBe(withoutMaxAge);
        expect(config.credentials[0].attributes).not.toMatch(/max-age|expires/i);

        const session = await stored(userId, id);
        expect(session?.deviceBoundAt).toBeGreaterThanOrEqual(before);
        expect(session?.deviceBoundAt).toBeLessThanOrEqual(clock());
        const shown = (await query(b, 'sessions.list')).data;
        expect(shown[0].deviceBoundAt).toBe(session?.deviceBoundAt);
        const [event] = await auditOf(userId, 'device_bound');
        expect(event).toMatchObject({ sessionId: id, actor: { kind: 'self' }, detail: { alg: 'ES256' } });
        // Where the registration came from (the route hands the request's IP and User-Agent along).
        expect(event?.ip).toMatch(/^(127\.0\.0\.1|::1|::ffff:127\.0\.0\.1)$/);
        expect(event?.userAgent).toBe('Mozilla/5.0 (DBSC test)');
        // The same offer can't bind twice (409), and the session keeps working.
        const again = (await b.register(offer!))!;
        expect(again.status).toBe(409);
        expect(again.headers.getSetCookie()).toEqual([]);
        expect((await query(b, 'auth.me')).status).toBe(200);
      });

      it('auth.me works with both cookies and sends no offer; the admin console shows the binding', async () => {
        const { b, userId, id } = await bound();
        expect(b.cookie(BOUND)).not.toBeNull();
        advance(GRACE); // past the registration grace: the bound cookie is what counts now
        const me = await query(b, 'auth.me');
        expect(me.status).toBe(200);
        expect(me.headers.get('secure-session-registration')).toBeNull();
        const admin = browser({ dbsc: false });
        const { email } = await app.createUser(uniqueEmail('admin'), { role: 'admin' });
        await mutate(admin, 'auth.login', { email, password: PASSWORD });
        const page = await query(admin, 'admin.getUser', { userId });
        expect(page.status).toBe(200);
        expect(page.data.sessions.find((s: Loose) => s.id === id).deviceBoundAt).toEqual(expect.any(Number));
      });

      it('RS256 keys bind too, and quoted (sf-string) headers are read like raw ones', async () => {
        const { b, userId } = await bound({ algorithm: 'RS256', quoteHeaders: true });
        expect((await auditOf(userId, 'device_bound'))[0]?.detail).toEqual({ alg: 'RS256' });
        advance(PAST_BOUND);
        const me = await query(b, 'auth.me');
        expect(me.status, JSON.stringify(b.events)).toBe(200);
        expect(b.events.map((e) => e.type)).toEqual(['registered', 'challenged', 'refreshed']);
      });

      it('offered on verifyMfa (not on the MFA step of login, nor on the rotations around it)', async () => {
        const b = browser({ dbsc: false });
        const { email, login } = await signIn(b);
        expect(login.headers.get('secure-session-registration')).toMatch(REGISTRATION);
        const { secret } = (await mutate(b, 'mfa.beginEnrollment')).data;
        const confirm = await mutate(b, 'mfa.confirmEnrollment', {
          code: totpCode(secret, clock() - 30_000),
        });
        expect(confirm.status, JSON.stringify(confirm.error)).toBe(200);
        expect(confirm.setCookies.some((c) => c.startsWith(`${SESSION}=`))).toBe(true); // rotated
        expect(confirm.headers.get('secure-session-registration')).toBeNull();
        const reauth = await mutate(b, 'auth.reauthenticate', { password: PASSWORD });
        expect(reauth.status).toBe(200);
        expect(reauth.headers.get('secure-session-registration')).toBeNull();

        const c = browser();
        const first = await mutate(c, 'auth.login', { email, password: PASSWORD });
        expect(first.data).toMatchObject({ status: 'mfa_required' });
        expect(first.headers.get('secure-session-registration')).toBeNull();
        const verified = await mutate(c, 'auth.verifyMfa', { code: totpCode(secret, clock()) });
        expect(verified.status, JSON.stringify(verified.error)).toBe(200);
        expect(verified.headers.get('secure-session-registration')).toMatch(REGISTRATION);
        expect(c.events.map((e) => e.type)).toEqual(['registered']);
        expect((await query(c, 'auth.me')).status).toBe(200);
      });

      it('offered on resolveSessionLimit, and the session it creates binds', async () => {
        const email = uniqueEmail('limit');
        await app.createUser(email);
        const others = [browser({ dbsc: false }), browser({ dbsc: false }), browser({ dbsc: false })];
        for (const o of others)
          expect((await mutate(o, 'auth.login', { email, password: PASSWORD })).status).toBe(200);
        const c = browser();
        const refused = await mutate(c, 'auth.login', { email, password: PASSWORD });
        expect(refused.status).toBe(409);
        expect(refused.headers.get('secure-session-registration')).toBeNull();
        const { ticket } = refused.error.data.sessionLimit;
        const resolved = await mutate(c, 'auth.resolveSessionLimit', {
          ticket,
          revokeSessionId: sessionIdOf(others[0]!),
        });
        expect(resolved.status, JSON.stringify(resolved.error)).toBe(200);
        expect(resolved.headers.get('secure-session-registration')).toMatch(REGISTRATION);
        expect(c.events.map((e) => e.type)).toEqual(['registered']);
        const userId = (await query(c, 'auth.me')).data.user.id;
        expect((await stored(userId, sessionIdOf(c)))?.deviceBoundAt).toEqual(expect.any(Number));
      });

      it('a browser without DBSC works exactly as before: never bound, never asked for a bound cookie', async () => {
        const b = browser({ dbsc: false });
        await signIn(b);
        expect(b.cookie(BOUND)).toBeNull();
        for (const step of [0, PAST_BOUND, 20 * MINUTE]) {
          advance(step);
          const me = await query(b, 'auth.me');
          expect(me.status).toBe(200);
          expect(me.setCookies).toEqual([]);
        }
        expect((await query(b, 'sessions.list')).data[0].deviceBoundAt).toBeNull();
      });
    });

    describe('the bound cookie', () => {
      it('past its expiry, a request without a refresh is device_unbound: 401, nothing cleared, nothing touched', async () => {
        const { b, userId, id } = await bound();
        advance(PAST_BOUND);
        const before = await stored(userId, id);
        const me = await query(b, 'auth.me', undefined, { refresh: false });
        expect(me.status).toBe(401);
        expect(me.error.data.reason).toBe('device_unbound');
        expect(me.setCookies).toEqual([]);
        expect((await stored(userId, id))?.lastActivityAt).toBe(before?.lastActivityAt);
        // The same request after the browser's refresh goes through.
        const after = await query(b, 'auth.me');
        expect(after.status).toBe(200);
        expect((await stored(userId, id))?.lastActivityAt).toBeGreaterThan(before!.lastActivityAt);
      });

      it('refresh: the first is two-phase (403, then 200), the next single-phase with the challenge it got; a new cookie each time', async () => {
        const { b } = await bound();
        const values = [b.cookie(BOUND)];
        advance(PAST_BOUND);
        expect((await query(b, 'auth.me')).status).toBe(200);
        values.push(b.cookie(BOUND));
        expect(b.events.map((e) => e.type)).toEqual(['registered', 'challenged', 'refreshed']);
        advance(PAST_BOUND);
        expect((await query(b, 'auth.me')).status).toBe(200);
        values.push(b.cookie(BOUND));
        expect(b.events.map((e) => e.type)).toEqual(['registered', 'challenged', 'refreshed', 'refreshed']);
        expect(new Set(values).size).toBe(3);
      });

      it('a refresh never slides the idle clock: only requests do', async () => {
        const { b, userId, id } = await bound();
        const last = (await stored(userId, id))!.lastActivityAt;
        advance(29 * MINUTE);
        expect(await b.refresh(id)).toBe(200);
        expect(b.events.at(-1)?.type).toBe('refreshed');
        expect((await stored(userId, id))?.lastActivityAt).toBe(last);
        advance(2 * MINUTE); // 31 min since the last request, with a bound cookie 2 min old
        const me = await query(b, 'auth.me', undefined, { refresh: false });
        expect(me.status).toBe(401);
        expect(me.error.data.reason).toBe('idle_timeout');
      });

      it('registration grace: without the bound cookie, accepted just after binding, refused once it passed', async () => {
        const { b } = await bound();
        const thief = b.steal();
        thief.cookies.delete(BOUND);
        expect((await query(thief, 'auth.me')).status).toBe(200);
        advance(GRACE);
        const me = await query(thief, 'auth.me');
        expect(me.status).toBe(401);
        expect(me.error.data.reason).toBe('device_unbound');
      });

      it('the previous bound cookie works after a refresh until its own expiry (TTL + 30 s), then is refused', async () => {
        const { b, userId, id } = await bound();
        // The store's expiry of the first cookie: the bind's own clock reading, plus the TTL and slack.
        const expiresAt = (await stored(userId, id))!.deviceBoundAt! + BOUND_TTL + 30_000;
        const previous = b.steal();
        previous.cookies.get(BOUND)!.expiresAt = null; // sent whatever its Max-Age said: the server decides
        advance(5 * MINUTE);
        expect(await b.refresh(id)).toBe(200);
        expect(b.events.at(-1)?.type).toBe('refreshed');
        expect(b.cookie(BOUND)).not.toBe(previous.cookie(BOUND));
        expect((await query(previous, 'auth.me')).status).toBe(200);
        advance(expiresAt - 5_000 - clock()); // past the browser's Max-Age, within the slack
        expect((await query(previous, 'auth.me')).status).toBe(200);
        advance(expiresAt - clock());
        const me = await query(previous, 'auth.me');
        expect(me.status).toBe(401);
        expect(me.error.data.reason).toBe('device_unbound');
        expect(me.setCookies).toEqual([]);
        // The current cookie, issued 5 min later, still works without a refresh.
        expect((await query(b, 'auth.me', undefined, { refresh: false })).status).toBe(200);
      });

      it('only one previous bound cookie: after a second refresh the first is refused before its expiry', async () => {
        const { b, id } = await bound();
        const first = b.steal();
        advance(GRACE);
        expect(await b.refresh(id)).toBe(200);
        const second = b.steal();
        expect(await b.refresh(id)).toBe(200);
        expect(b.events.map((e) => e.type)).toEqual(['registered', 'challenged', 'refreshed', 'refreshed']);
        expect(first.cookie(BOUND)).not.toBeNull(); // not expired, by its Max-Age or the store's
        const me = await query(first, 'auth.me');
        expect(me.status).toBe(401);
        expect(me.error.data.reason).toBe('device_unbound');
        expect((await query(second, 'auth.me')).status).toBe(200);
        expect((await query(b, 'auth.me', undefined, { refresh: false })).status).toBe(200);
      });

      it("near the absolute deadline (SESSION_ABSOLUTE_TIMEOUT=2h) the bound cookie's Max-Age is the time left", async () => {
        const { b, userId, id } = await bound();
        const end = (await stored(userId, id))!.absoluteExpiresAt;
        for (let t = 0; t < 4; t++) {
          advance(25 * MINUTE);
          expect((await query(b, 'auth.me')).status).toBe(200);
        }
        advance(end - 5 * MINUTE - clock()); // 1h55 since sign-in, 15 min since the last request
        const before = clock();
        const res = await refreshOnce(b, id);
        const after = clock();
        expect(res.status).toBe(200);
        const [setCookie, ...more] = res.headers.getSetCookie();
        expect(more).toEqual([]);
        const cookie = parseSetCookie(setCookie!);
        expect(cookie.name).toBe(BOUND);
        const maxAge = Number(cookie.attributes['max-age']);
        expect(maxAge).toBeLessThanOrEqual(Math.floor((end - before) / 1000));
        expect(maxAge).toBeGreaterThanOrEqual(Math.floor((end - after) / 1000));
        expect(maxAge).toBeLessThan(BOUND_TTL / 1000);
        // The browser drops it no later than the deadline; until then it serves requests.
        expect(b.cookies.get(BOUND)?.expiresAt).toBeLessThanOrEqual(end);
        expect((await query(b, 'auth.me', undefined, { refresh: false })).status).toBe(200);
      });
    });

    describe('theft', () => {
      it('the session cookie alone is refused, and its use does not keep the session alive', async () => {
        const { b, userId, id } = await bound();
        advance(GRACE);
        const thief = b.steal();
        thief.cookies.delete(BOUND);
        const last = (await stored(userId, id))!.lastActivityAt;
        for (let i = 0; i < 3; i++) {
          const me = await query(thief, 'auth.me');
          expect(me.status).toBe(401);
          expect(me.error.data.reason).toBe('device_unbound');
          expect(me.setCookies).toEqual([]);
        }
        expect((await stored(userId, id))?.lastActivityAt).toBe(last);
        expect((await query(b, 'auth.me')).status).toBe(200);
      });

      it("both cookies: work until the bound cookie's expiry, then refused; the thief can't refresh, and a proof of its own key is refused and audited", async () => {
        const { b, userId, id } = await bound();
        const thief = b.steal();
        // A thief sends the copied bound cookie whatever its Max-Age said: the server decides.
        thief.cookies.get(BOUND)!.expiresAt = null;
        advance(BOUND_TTL - MINUTE);
        expect((await query(thief, 'auth.me')).status).toBe(200);
        advance(2 * MINUTE);
        const me = await query(thief, 'auth.me');
        expect(me.status).toBe(401);
        expect(me.error.data.reason).toBe('device_unbound');

        // The refresh's first leg answers anyone holding the session cookie with a challenge...
        const first = await thief.sendProof(id, null);
        expect(first.status).toBe(403);
        const challenge = /^"([^"]+)";id="([^"]+)"$/.exec(first.headers.get('secure-session-challenge')!);
        expect(challenge?.[2]).toBe(id);
        // ...which only the device's key can answer.
        const foreign = await thief.sendProof(
          id,
          await signDbscProof(await makeDbscKey(), challenge![1]!, false),
        );
        expect(foreign.status).toBe(400);
        expect(foreign.headers.getSetCookie()).toEqual([]);
        expect(await foreign.json()).toEqual({ error: 'bad_signature' });
        const [refusal] = await auditOf(userId, 'device_proof_refused');
        expect(refusal).toMatchObject({
          sessionId: id,
          reason: 'foreign_key',
          detail: { reason: 'foreign_key' },
          actor: { kind: 'system' },
        });
        expect(refusal?.ip).not.toBeNull();
        // More bad proofs within the minute: refused every time, recorded once (no audit flood).
        for (let i = 0; i < 5; i++) {
          const again = await thief.sendProof(
            id,
            await signDbscProof(await makeDbscKey(), challenge![1]!, false),
          );
          expect(again.status).toBe(400);
        }
        expect(await auditOf(userId, 'device_proof_refused')).toHaveLength(1);
        expect((await query(thief, 'auth.me')).status).toBe(401);
        // The owner's next refresh still works (its cached challenge was replaced: one more 403).
        expect((await query(b, 'auth.me')).status).toBe(200);
      });

      it('a replayed proof gets a new challenge and no cookie; 20 concurrent copies of a fresh proof: exactly one 200', async () => {
        const { b, id } = await bound();
        advance(PAST_BOUND);
        expect((await query(b, 'auth.me')).status).toBe(200);
        const replay = await b.sendProof(id, b.lastProof);
        expect(replay.status).toBe(403);
        expect(replay.headers.get('secure-session-challenge')).toMatch(new RegExp(`;id="${id}"$`));
        expect(replay.headers.getSetCookie()).toEqual([]);

        const state = b.sessions.get(id)!;
        const proof = await signDbscProof(state.key, state.challenge!, false);
        const answers = await Promise.all(Array.from({ length: 20 }, () => b.sendProof(id, proof)));
        const statuses = answers.map((r) => r.status);
        expect(statuses.filter((s) => s === 200)).toHaveLength(1);
        expect(statuses.filter((s) => s !== 200 && s !== 403)).toEqual([]);
        for (const r of answers.filter((x) => x.status === 403)) expect(r.headers.getSetCookie()).toEqual([]);
      });
    });

    describe('the end of a session ends its binding', () => {
      /**
       * The refresh answers `continue: false` and clears the bound cookie only; the request the
       * browser then sends carries the session cookie, learns why from the store (the ended session's
       * reason, so the SPA can say it) and that 401 clears the session cookie.
       */
      async function expectEnded(b: DbscBrowser, id: string, reason: string) {
        const res = await b.sendProof(id, null);
        expect(res.status).toBe(200);
        expect(await res.json()).toEqual({ session_identifier: id, continue: false });
        expect(b.cookie(BOUND)).toBeNull();
        expect(b.cookie(SESSION)).not.toBeNull();
        const me = await query(b, 'auth.me');
        expect(me.status).toBe(401);
        expect(me.error.data.reason).toBe(reason);
        expect(b.cookie(SESSION)).toBeNull();
      }

      /** The browser's own flow: the refresh before the request ends its bound session; the request is 401 with the reason. */
      async function expectTerminated(b: DbscBrowser, reason: string) {
        const me = await query(b, 'auth.me');
        expect(b.events.at(-1)?.type).toBe('terminated');
        expect(b.sessions.size).toBe(0);
        expect(me.status).toBe(401);
        expect(me.error.data.reason).toBe(reason);
      }

      it('logout: cookies cleared; the next refresh ends the browser session, even for a copy of the cookies', async () => {
        const { b, id } = await bound();
        const copy = b.steal();
        const out = await mutate(b, 'auth.logout');
        expect(out.status).toBe(200);
        const cleared = out.setCookies.map(parseSetCookie);
        expect(cleared.find((c) => c.name === BOUND)?.attributes['max-age']).toBe('0');
        expect(cleared.find((c) => c.name === SESSION)?.attributes['max-age']).toBe('0');
        const me = await query(b, 'auth.me');
        expect(b.events.at(-1)?.type).toBe('terminated');
        expect(me.error.data.reason).toBe('missing');
        await expectEnded(copy, id, 'logged_out');
      });

      it('revoked by the user from another session', async () => {
        const { b, id, email } = await bound();
        const other = browser({ dbsc: false });
        await mutate(other, 'auth.login', { email, password: PASSWORD });
        expect((await mutate(other, 'sessions.revoke', { sessionId: id })).status).toBe(200);
        await expectEnded(b, id, 'revoked');
      });

      it('revoked by an administrator', async () => {
        const { b, id, userId } = await bound();
        const admin = browser({ dbsc: false });
        const { email } = await app.createUser(uniqueEmail('admin'), { role: 'admin' });
        await mutate(admin, 'auth.login', { email, password: PASSWORD });
        expect((await mutate(admin, 'admin.revokeUserSessions', { userId })).status).toBe(200);
        await expectEnded(b, id, 'revoked');
      });

      it('a password change elsewhere', async () => {
        const { b, id, email } = await bound();
        const other = browser({ dbsc: false });
        await mutate(other, 'auth.login', { email, password: PASSWORD });
        const changed = await mutate(other, 'auth.changePassword', {
          currentPassword: PASSWORD,
          newPassword: 'another long passphrase 8',
        });
        expect(changed.status, JSON.stringify(changed.error)).toBe(200);
        await expectEnded(b, id, 'password_changed');
      });

      it('the idle deadline: the refresh finds it, ends the session and the browser session', async () => {
        const { b, userId } = await bound();
        advance(31 * MINUTE);
        await expectTerminated(b, 'idle_timeout');
        expect(await app.runtime.deps.sessions.list(userId)).toEqual([]);
      });

      it('the absolute deadline (SESSION_ABSOLUTE_TIMEOUT=2h), however active the session', async () => {
        const { b } = await bound();
        for (let t = 0; t < 4; t++) {
          advance(25 * MINUTE);
          expect((await query(b, 'auth.me')).status).toBe(200);
        }
        expect(b.events.filter((e) => e.type === 'refreshed')).toHaveLength(4);
        advance(25 * MINUTE); // 2h05 since sign-in, 25 min since the last request
        await expectTerminated(b, 'absolute_timeout');
      });

      it('the account disabled by an administrator', async () => {
        const { b, id, userId } = await bound();
        const admin = browser({ dbsc: false });
        const { email } = await app.createUser(uniqueEmail('admin'), { role: 'admin' });
        await mutate(admin, 'auth.login', { email, password: PASSWORD });
        const disabled = await mutate(admin, 'admin.setDisabled', { userId, disabled: true });
        expect(disabled.status, JSON.stringify(disabled.error)).toBe(200);
        await expectEnded(b, id, 'account_disabled');
      });

      it('evicted by the per-user limit (SESSION_LIMIT_POLICY=evict-oldest) by sign-ins elsewhere', async () => {
        await app.stop();
        app = await start({ SESSION_LIMIT_POLICY: 'evict-oldest', SESSION_MAX_PER_USER: '2' });
        try {
          const { b, id, email, userId } = await bound();
          for (let i = 0; i < 2; i++) {
            const other = browser({ dbsc: false });
            expect((await mutate(other, 'auth.login', { email, password: PASSWORD })).status).toBe(200);
          }
          expect(await stored(userId, id)).toBeNull();
          await expectEnded(b, id, 'evicted');
        } finally {
          await app.stop();
          app = await start(); // the suite's settings again, on the same storage
        }
      });
    });

    describe('the endpoints', () => {
      it('only POST, only from the app: other methods 405, a cross-site or foreign-origin request 400; no CORS', async () => {
        const { b, id } = await bound();
        const get = await post(b, '/dbsc/refresh', {}, 'GET');
        expect(get.status).toBe(405);
        expect(get.headers.get('allow')).toBe('POST');
        for (const path of ['/dbsc/register', '/dbsc/refresh']) {
          const crossSite = await post(b, path, {
            'sec-fetch-site': 'cross-site',
            'sec-secure-session-id': id,
          });
          expect(crossSite.status, path).toBe(400);
          expect(await crossSite.json()).toEqual({ error: 'cross_site' });
          const sameSite = await post(b, path, {
            'sec-fetch-site': 'same-site',
            'sec-secure-session-id': id,
          });
          expect(sameSite.status, path).toBe(400);
          const foreign = await post(b, path, { origin: 'https://evil.test', 'sec-secure-session-id': id });
          expect(foreign.status, path).toBe(400);
          expect(await foreign.json()).toEqual({ error: 'cross_origin' });
          for (const res of [crossSite, foreign]) {
            expect(res.headers.get('cache-control')).toBe('no-store');
            expect(res.headers.getSetCookie()).toEqual([]);
            expect([...res.headers.keys()].filter((h) => h.startsWith('access-control-'))).toEqual([]);
          }
        }
        // The app's own origin, same-origin fetch metadata, or neither (older Chromium): a challenge.
        for (const headers of [{ origin: DBSC_ORIGIN }, { 'sec-fetch-site': 'same-origin' }, {}] as Record<
          string,
          string
        >[]) {
          const res = await post(b, '/dbsc/refresh', { ...headers, 'sec-secure-session-id': id });
          expect(res.status, JSON.stringify(headers)).toBe(403);
          expect(res.headers.get('cache-control')).toBe('no-store');
        }
        // A body of any type is ignored, not parsed.
        const body = await fetch(`${app.url}/dbsc/refresh`, {
          method: 'POST',
          headers: {
            cookie: b.cookieHeader(),
            'content-type': 'application/json',
            'sec-secure-session-id': id,
          },
          body: '{not json',
        });
        expect(body.status).toBe(403);
      });

      it("a refresh for another session than the cookie's, or without a session cookie, ends only the browser session", async () => {
        const { b, id, userId } = await bound();
        const other = await bound();
        const res = await post(b, '/dbsc/refresh', { 'sec-secure-session-id': other.id });
        expect(res.status).toBe(200);
        expect(await res.json()).toEqual({ session_identifier: other.id, continue: false });
        const none = await fetch(`${app.url}/dbsc/refresh`, {
          method: 'POST',
          headers: { 'sec-secure-session-id': id },
        });
        expect(await none.json()).toEqual({ session_identifier: id, continue: false });
        // Nothing ends: no session cookie is cleared (that one belongs to a live session).
        for (const r of [res, none])
          expect(r.headers.getSetCookie().filter((c) => c.startsWith(`${SESSION}=`))).toEqual([]);
        expect((await stored(userId, id))?.deviceBoundAt).toEqual(expect.any(Number));
        expect((await query(b, 'auth.me')).status).toBe(200);
        expect((await query(other.b, 'auth.me')).status).toBe(200);
      });
    });

    it('DBSC=off: no offer on sign-in, and a session that bound earlier fails closed (device_unbound)', async () => {
      const { b, userId, id } = await bound();
      await app.stop();
      app = await start({ DBSC: 'off' }); // the same storage
      b.options.origin = app.url;
      advance(GRACE);
      const me = await query(b, 'auth.me', undefined, { refresh: false });
      expect(me.status).toBe(401);
      expect(me.error.data.reason).toBe('device_unbound');
      expect(me.setCookies).toEqual([]);
      expect((await stored(userId, id))?.deviceBoundAt).toEqual(expect.any(Number));
      expect((await fetch(`${app.url}/dbsc/refresh`, { method: 'POST' })).status).toBe(404);
      const c = browser();
      const { login } = await signIn(c);
      expect(login.headers.get('secure-session-registration')).toBeNull();
      expect(c.events).toEqual([]);
      expect((await query(c, 'auth.me')).status).toBe(200);
    });
  });
}
