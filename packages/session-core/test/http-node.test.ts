/**
 * `@tessera/session-core/node` over real HTTP: a plain node:http server (what Express 5 and Connect run
 * on), a real Redis store on a private redis-server, and the session cookie as a browser would send it.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startRedis, type TestRedis } from '@tessera/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SessionStoreError } from '../src/errors.js';
import { getSession, writeCookie } from '../src/http/node.js';
import { createSessionManager, type SessionManager } from '../src/manager.js';
import { redisStore } from '../src/stores/redis/index.js';
import { TAG_SECRET } from './helpers/redis-store-suite.js';

const NAME = 'tessera'; // cookie: { secure: false }, as for plain-HTTP development
const CLEAR = `${NAME}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax`;
let now = Date.now();
let redis: TestRedis;
let client: Redis;
let sessions: SessionManager;
let server: Server;
let url: string;

/** The app: GET /me behind the helper, /rotate-then-logout; store failures answer 503 (fail closed). */
async function handle(req: IncomingMessage, res: ServerResponse) {
  res.setHeader('set-cookie', 'theme=dark; Path=/'); // another cookie must survive
  try {
    const s = await getSession(sessions, req);
    writeCookie(res, s.setCookie);
    if (!s.session) return res.writeHead(401).end(JSON.stringify({ reason: s.reason }));
    if (req.url === '/logout') writeCookie(res, sessions.blankCookie()); // after a rotation: one cookie
    res.writeHead(200).end(JSON.stringify({ userId: s.session.userId, token: s.token }));
  } catch (error) {
    if (!(error instanceof SessionStoreError)) throw error;
    res.removeHeader('set-cookie');
    res.writeHead(503).end(JSON.stringify({ error: 'unavailable' }));
  }
}

const get = (path: string, cookie?: string) => fetch(`${url}${path}`, { headers: cookie ? { cookie } : {} });
const sessionCookies = (res: Response) => res.headers.getSetCookie().filter((c) => c.startsWith(`${NAME}=`));

beforeAll(async () => {
  redis = await startRedis();
  // Fail fast when Redis is down instead of queueing (the README's client settings).
  client = new Redis(redis.url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => 200,
  });
  client.on('error', () => {}); // the outage test kills the server
  await new Promise<void>((resolve) => client.once('ready', () => resolve()));
  sessions = createSessionManager({
    store: redisStore({ client, tagSecret: TAG_SECRET }),
    clock: () => now,
    idleTimeout: '30m',
    cookie: { secure: false },
  });
  server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  client?.disconnect();
  await redis?.stop();
});

describe('getSession (node IncomingMessage)', () => {
  it('no cookie: 401 missing, and no Set-Cookie for the session', async () => {
    const res = await get('/me');
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ reason: 'missing' });
    expect(res.headers.getSetCookie()).toEqual(['theme=dark; Path=/']);
  });

  it('a valid session: the session and the presented token, nothing to write', async () => {
    const { token } = await sessions.create({ userId: 'u-valid' });
    const res = await get('/me', `a=1; ${NAME}=${token}`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ userId: 'u-valid', token });
    expect(sessionCookies(res)).toEqual([]);
  });

  it('a rotation: Set-Cookie carries the new token (other cookies kept), `token` is the one in force', async () => {
    const { token } = await sessions.create({ userId: 'u-rotate' });
    await sessions.updateUser('u-rotate', { role: 'admin' }); // the next request rotates
    const res = await get('/me', `${NAME}=${token}`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { token: string };
    expect(body.token).not.toBe(token);
    expect(res.headers.getSetCookie()).toEqual([
      'theme=dark; Path=/',
      `${NAME}=${body.token}; Path=/; HttpOnly; SameSite=Lax`,
    ]);
    expect((await get('/me', `${NAME}=${body.token}`)).status).toBe(200);
    expect(await (await get('/me', `${NAME}=${token}`)).json()).toEqual({ reason: 'rotated' });
  });

  it('a rotation then a logout on one request sends one Set-Cookie for the session: the clearing one', async () => {
    const { token } = await sessions.create({ userId: 'u-rotate-logout' });
    await sessions.updateUser('u-rotate-logout', { role: 'admin' });
    const res = await get('/logout', `${NAME}=${token}`);
    expect(res.headers.getSetCookie()).toEqual(['theme=dark; Path=/', CLEAR]);
  });

  it('a dead cookie (idle timeout) is cleared', async () => {
    const { token } = await sessions.create({ userId: 'u-idle' });
    now += 31 * 60_000;
    const res = await get('/me', `${NAME}=${token}`);
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ reason: 'idle_timeout' });
    expect(sessionCookies(res)).toEqual([CLEAR]);
  });

  it('duplicate cookies (a valid one among them): neither is adopted and ours is cleared', async () => {
    const { token } = await sessions.create({ userId: 'u-dup' });
    const res = await fetch(`${url}/me`, { headers: [['cookie', `${NAME}=${token}; ${NAME}=planted`]] });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ reason: 'duplicate' });
    expect(sessionCookies(res)).toEqual([CLEAR]);
  });

  it('the store is down: getSession throws SessionStoreError and the app answers 503', async () => {
    const { token } = await sessions.create({ userId: 'u-down' });
    await redis.kill();
    try {
      await expect(getSession(sessions, { headers: { cookie: `${NAME}=${token}` } })).rejects.toBeInstanceOf(
        SessionStoreError,
      );
      const res = await get('/me', `${NAME}=${token}`);
      expect(res.status).toBe(503);
      expect(res.headers.getSetCookie()).toEqual([]);
    } finally {
      await redis.start();
    }
  });
});
