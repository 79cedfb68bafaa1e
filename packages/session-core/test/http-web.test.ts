/**
 * `@tessera/session-core/web` over real HTTP: a Hono-like fetch handler (`Request` in, `Response` out)
 * on a node:http port, a real PGlite store, and the session cookie as a browser would send it.
 */
import { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SessionStoreError } from '../src/errors.js';
import { getSession, writeCookie } from '../src/http/web.js';
import { createSessionManager, type SessionManager } from '../src/manager.js';
import { pgliteStore } from '../src/stores/sql/pglite.js';
import { serveFetch } from './helpers/serve-fetch.js';

const NAME = '__Host-tessera';
let now = Date.now();
let db: PGlite;
let dead: PGlite;
let sessions: SessionManager;
let downSessions: SessionManager;
const servers: { url: string; close: () => Promise<void> }[] = [];

/** The app: GET /me behind the helper; store failures answer 503 (fail closed). */
const app = (manager: SessionManager) => async (request: Request) => {
  const headers = new Headers({ 'set-cookie': 'theme=dark; Path=/' }); // another cookie must survive
  try {
    const s = await getSession(manager, request);
    writeCookie(headers, s.setCookie);
    if (!s.session) return Response.json({ reason: s.reason }, { status: 401, headers });
    return Response.json({ userId: s.session.userId, token: s.token }, { headers });
  } catch (error) {
    if (error instanceof SessionStoreError) return Response.json({ error: 'unavailable' }, { status: 503 });
    throw error;
  }
};

let url: string;
let downUrl: string;
const me = (cookie?: string) => fetch(`${url}/me`, { headers: cookie ? { cookie } : {} });
const sessionCookies = (res: Response) => res.headers.getSetCookie().filter((c) => c.startsWith(`${NAME}=`));

beforeAll(async () => {
  db = await PGlite.create();
  dead = await PGlite.create();
  await dead.close();
  sessions = createSessionManager({ store: pgliteStore({ db }), clock: () => now, idleTimeout: '30m' });
  downSessions = createSessionManager({ store: pgliteStore({ db: dead }), clock: () => now });
  servers.push(await serveFetch(app(sessions)), await serveFetch(app(downSessions)));
  url = servers[0]!.url;
  downUrl = servers[1]!.url;
});

afterAll(async () => {
  for (const s of servers) await s.close();
  await db?.close();
});

describe('getSession (web Request)', () => {
  it('no cookie: 401 missing, and no Set-Cookie for the session', async () => {
    const res = await me();
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ reason: 'missing' });
    expect(sessionCookies(res)).toEqual([]);
    expect(res.headers.getSetCookie()).toEqual(['theme=dark; Path=/']);
  });

  it('a valid session: the session and the presented token, nothing to write', async () => {
    const { token } = await sessions.create({ userId: 'u-valid' });
    const res = await me(`other=1; ${NAME}=${token}; more=2`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ userId: 'u-valid', token });
    expect(sessionCookies(res)).toEqual([]);
  });

  it('a rotation: Set-Cookie carries the new token, `token` is the one in force, the old one is dead', async () => {
    const { token } = await sessions.create({ userId: 'u-rotate' });
    await sessions.updateUser('u-rotate', { role: 'admin' }); // the next request rotates
    const res = await me(`${NAME}=${token}`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { token: string };
    expect(body.token).not.toBe(token);
    const written = sessionCookies(res);
    expect(written).toHaveLength(1);
    expect(written[0]).toMatch(new RegExp(`^${NAME}=${body.token}; Path=/; HttpOnly; Secure; SameSite=Lax$`));
    expect(res.headers.getSetCookie()).toContain('theme=dark; Path=/');
    expect((await me(`${NAME}=${body.token}`)).status).toBe(200);
    const old = await me(`${NAME}=${token}`);
    // The browser already holds the successor: `rotated` clears nothing.
    expect(await old.json()).toEqual({ reason: 'rotated' });
    expect(sessionCookies(old)).toEqual([]);
  });

  it('a dead cookie (idle timeout) is cleared', async () => {
    const { token } = await sessions.create({ userId: 'u-idle' });
    now += 31 * 60_000;
    const res = await me(`${NAME}=${token}`);
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ reason: 'idle_timeout' });
    expect(sessionCookies(res)).toEqual([`${NAME}=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax`]);
  });

  it('a malformed cookie is cleared without a store call', async () => {
    const res = await downFetch(`${NAME}=not-a-token`);
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ reason: 'malformed' });
    expect(sessionCookies(res)).toHaveLength(1);
  });

  it('duplicate cookies: neither is adopted (not even a valid one) and ours is cleared', async () => {
    const { token } = await sessions.create({ userId: 'u-dup' });
    const res = await me(`${NAME}=${token}; ${NAME}=planted-by-a-sibling`);
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ reason: 'duplicate' });
    expect(sessionCookies(res)).toEqual([`${NAME}=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax`]);
  });

  it('the store is down: getSession throws SessionStoreError and the app answers 503', async () => {
    const { token } = await sessions.create({ userId: 'u-down' });
    await expect(
      getSession(downSessions, new Request(url, { headers: { cookie: `${NAME}=${token}` } })),
    ).rejects.toBeInstanceOf(SessionStoreError);
    const res = await downFetch(`${NAME}=${token}`);
    expect(res.status).toBe(503);
    expect(res.headers.getSetCookie()).toEqual([]);
  });

  it('accepts a bare Headers object and a custom cookie name', async () => {
    const { token } = await sessions.create({ userId: 'u-headers' });
    const s = await getSession(sessions, new Headers({ cookie: `${NAME}=${token}` }));
    expect(s).toMatchObject({ session: { userId: 'u-headers' }, reason: null, token, setCookie: null });
    const renamed = await getSession(sessions, new Headers({ cookie: 'sid=junk' }), { cookieName: 'sid' });
    expect(renamed).toMatchObject({ session: null, reason: 'malformed' });
    expect(renamed.setCookie).toMatch(/^sid=; Path=\/; Max-Age=0;/);
  });
});

describe('writeCookie (web Headers)', () => {
  it('keeps other cookies and replaces an earlier Set-Cookie of the same name', () => {
    const headers = new Headers();
    writeCookie(headers, 'theme=dark; Path=/');
    writeCookie(headers, `${NAME}=rotated; Path=/; HttpOnly; Secure; SameSite=Lax`);
    writeCookie(headers, null);
    writeCookie(headers, sessions.blankCookie()); // logout after a rotation on the same request
    expect(headers.getSetCookie()).toEqual([
      'theme=dark; Path=/',
      `${NAME}=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax`,
    ]);
  });
});

function downFetch(cookie: string) {
  return fetch(`${downUrl}/me`, { headers: { cookie } });
}
