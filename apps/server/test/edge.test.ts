/**
 * The HTTP edge: CSRF refusals before any procedure runs, headers, health endpoints, hostile cookies
 * and input, X-Forwarded-For, and logs that never carry a secret.
 */
import net from 'node:net';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/logger.js';
import { expectSessionCookie, PASSWORD, startApp, type TestApp, uniqueEmail } from './helpers/app.js';
import { TEST_ORIGIN } from './helpers/http.js';

let app: TestApp;
const logLines: string[] = [];
beforeAll(async () => {
  const sink = new Writable({
    write(chunk, _enc, done) {
      logLines.push(String(chunk));
      done();
    },
  });
  app = await startApp({ compose: { logger: createLogger({ logLevel: 'trace' }, sink) } });
});
afterAll(async () => {
  await app?.stop();
});

/** Sends raw bytes (what fetch refuses to send) and returns the response status. */
function rawStatus(request: Buffer): Promise<number> {
  const { port } = new URL(app.url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), '127.0.0.1', () => socket.end(request));
    let data = '';
    socket.on('data', (d) => (data += d.toString('latin1')));
    socket.on('end', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0)));
    socket.on('error', reject);
  });
}

const loginBody = (email: string) => JSON.stringify({ email, password: PASSWORD });

describe('CSRF: mutations need JSON from our origin, refused before the procedure runs', () => {
  const cases: [string, Record<string, string>, string | FormData, number][] = [
    [
      'text/plain (a cross-site form can send it)',
      { 'content-type': 'text/plain', origin: TEST_ORIGIN },
      '{}',
      415,
    ],
    [
      'an urlencoded form',
      { 'content-type': 'application/x-www-form-urlencoded', origin: TEST_ORIGIN },
      'a=b',
      415,
    ],
    ['octet-stream', { 'content-type': 'application/octet-stream', origin: TEST_ORIGIN }, '{}', 415],
    ['no content type', { origin: TEST_ORIGIN }, '{}', 415],
    ['a foreign Origin', { 'content-type': 'application/json', origin: 'https://evil.example' }, '{}', 403],
    ['the null Origin', { 'content-type': 'application/json', origin: 'null' }, '{}', 403],
    [
      'Sec-Fetch-Site: cross-site',
      { 'content-type': 'application/json', 'sec-fetch-site': 'cross-site', origin: TEST_ORIGIN },
      '{}',
      403,
    ],
    [
      'Sec-Fetch-Site: same-site',
      { 'content-type': 'application/json', 'sec-fetch-site': 'same-site' },
      '{}',
      403,
    ],
    ['neither Origin nor Sec-Fetch-Site', { 'content-type': 'application/json' }, '{}', 403],
  ];

  it.each(cases)('refuses %s', async (_label, headers, body, status) => {
    const c = await app.signedIn(uniqueEmail());
    const res = await c.fetch('/trpc/auth.logout', { method: 'POST', headers, body: body as string });
    expect(res.status).toBe(status);
    const json = (await res.json()) as { error: { data: { httpStatus: number } } };
    expect(json.error.data.httpStatus).toBe(status);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.getSetCookie()).toEqual([]);
    // The procedure never ran: the session is alive.
    expect((await c.query('auth.me')).status).toBe(200);
  });

  it('refuses multipart/form-data (tRPC alone would accept it)', async () => {
    const c = await app.signedIn(uniqueEmail());
    const form = new FormData();
    form.set('x', '1');
    const res = await c.fetch('/trpc/auth.logout', {
      method: 'POST',
      headers: { origin: TEST_ORIGIN },
      body: form,
    });
    expect(res.status).toBe(415);
    expect((await c.query('auth.me')).status).toBe(200);
  });

  it('a text/plain login sets no cookie', async () => {
    const email = uniqueEmail();
    await app.createUser(email);
    const c = app.client();
    const res = await c.fetch('/trpc/auth.login', {
      method: 'POST',
      headers: { 'content-type': 'text/plain', origin: TEST_ORIGIN },
      body: loginBody(email),
    });
    expect(res.status).toBe(415);
    expect(res.headers.getSetCookie()).toEqual([]);
  });

  it('accepts Sec-Fetch-Site: same-origin without an Origin header, and JSON with a charset', async () => {
    const email = uniqueEmail();
    await app.createUser(email);
    const res = await app.client().fetch('/trpc/auth.login', {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8', 'sec-fetch-site': 'same-origin' },
      body: loginBody(email),
    });
    expect(res.status).toBe(200);
    expectSessionCookie(res.headers.getSetCookie()[0]);
  });

  it('refuses GET on a mutation (405) and other methods (405)', async () => {
    const email = uniqueEmail();
    await app.createUser(email);
    const c = app.client();
    const get = await c.fetch(`/trpc/auth.login?input=${encodeURIComponent(loginBody(email))}`);
    expect(get.status).toBe(405);
    expect(get.headers.getSetCookie()).toEqual([]);
    const put = await c.fetch('/trpc/auth.logout', {
      method: 'PUT',
      headers: { 'content-type': 'application/json', origin: TEST_ORIGIN },
      body: '{}',
    });
    expect(put.status).toBe(405);
  });

  it('refuses cross-site GETs with the cookie (Sec-Fetch-Site: cross-site)', async () => {
    const c = await app.signedIn(uniqueEmail());
    const r = await c.query('sessions.list', undefined, { 'sec-fetch-site': 'cross-site' });
    expect(r.status).toBe(403);
  });
});

describe('headers and health', () => {
  it('every /trpc response is no-store, with security headers', async () => {
    const c = await app.signedIn(uniqueEmail());
    for (const r of [
      await c.query('auth.me'),
      await app.client().query('auth.me'),
      await c.query('nope.nothing'),
    ]) {
      expect(r.headers.get('cache-control')).toBe('no-store');
      expect(r.headers.get('x-content-type-options')).toBe('nosniff');
      expect(r.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
      expect(r.headers.get('access-control-allow-origin')).toBeNull();
    }
  });

  it('/healthz and /readyz report', async () => {
    const health = await fetch(`${app.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${app.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', checks: { database: 'ok', sessionStore: 'ok' } });
  });
});

describe('hostile cookies and input: 4xx or a clean "no session", never 500', () => {
  it('duplicate session cookies: no session (reason duplicate), cookie cleared', async () => {
    const c = await app.signedIn(uniqueEmail());
    const token = c.sessionToken!;
    const r = await app
      .client()
      .query('auth.me', undefined, { cookie: `__Host-tessera=${token}; __Host-tessera=${token}` });
    expect(r.status).toBe(401);
    expect(r.error?.data.reason).toBe('duplicate');
    expectSessionCookie(r.setCookies[0], { cleared: true });
  });

  it('junk around a valid cookie is tolerated', async () => {
    const c = await app.signedIn(uniqueEmail());
    const r = await app.client().query('auth.me', undefined, {
      cookie: `;; a; =b; c=%ZZ; weird="x; __Host-tessera=${c.sessionToken}; z=`,
    });
    expect(r.status).toBe(200);
  });

  it.each([
    ['a long value', `__Host-tessera=${'a'.repeat(4000)}`, 401],
    ['a quoted token', `__Host-tessera="${'A'.repeat(26)}.${'B'.repeat(43)}"`, 401],
  ])('%s is a clean 401', async (_label, cookie, status) => {
    const res = await fetch(`${app.url}/trpc/auth.me`, {
      headers: { cookie: Buffer.from(cookie, 'latin1').toString('latin1') },
    });
    expect(res.status).toBe(status);
  });

  it('raw non-ASCII and control bytes in the cookie get a 4xx', async () => {
    for (const bytes of [Buffer.from([0xff, 0xfe, 0x2e, 0x41]), Buffer.from([0x01, 0x7f, 0x00])]) {
      const head = Buffer.concat([
        Buffer.from('GET /trpc/auth.me HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: __Host-tessera='),
        bytes,
        Buffer.from('\r\n\r\n'),
      ]);
      const status = await rawStatus(head);
      expect(status).toBeGreaterThanOrEqual(400);
      expect(status).toBeLessThan(500);
    }
  });

  it('an oversized Cookie header is refused with 431', async () => {
    const res = await fetch(`${app.url}/trpc/auth.me`, { headers: { cookie: `x=${'a'.repeat(20_000)}` } });
    expect(res.status).toBe(431);
  });

  it('invalid JSON, wrong types, unknown procedures and huge bodies are 4xx', async () => {
    const c = app.client();
    const bad = await c.fetch('/trpc/auth.login', {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: TEST_ORIGIN },
      body: '{"email":',
    });
    expect(bad.status).toBe(400);
    expect((await c.mutation('auth.login', { email: 42, password: [] })).status).toBe(400);
    expect((await c.mutation('auth.login', 'not an object')).status).toBe(400);
    expect((await c.query('nope.nothing')).status).toBe(404);
    const huge = await c.fetch('/trpc/auth.login', {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: TEST_ORIGIN },
      body: JSON.stringify({ email: 'a@b.c', password: 'x'.repeat(200_000) }),
    });
    expect(huge.status).toBe(413);
  });

  it('batched calls share one validation and one response', async () => {
    const c = await app.signedIn(uniqueEmail());
    const res = await c.fetch('/trpc/auth.me,sessions.list?batch=1&input=%7B%7D');
    expect(res.status).toBe(200);
    const body = (await res.json()) as { result: { data: unknown[] } }[];
    expect(body).toHaveLength(2);
    expect(body[1]?.result.data).toHaveLength(1);
  });
});

describe('X-Forwarded-For', () => {
  it('is ignored without TRUST_PROXY (the session records the socket address)', async () => {
    const email = uniqueEmail();
    await app.createUser(email);
    const c = app.client({ 'x-forwarded-for': '203.0.113.9' });
    await c.mutation('auth.login', { email, password: PASSWORD });
    expect((await c.query('sessions.list')).data[0].ip).toBe('127.0.0.1');
  });
});

describe('logs', () => {
  it('never contain a token, a cookie or a password; session events carry the public id', async () => {
    const email = uniqueEmail();
    await app.createUser(email);
    const c = app.client();
    await c.mutation('auth.login', { email, password: 'a wrong password for the log' });
    await c.mutation('auth.login', { email, password: PASSWORD });
    const token = c.sessionToken!;
    await c.query('auth.me');
    await c.fetch(`/trpc/auth.login?input=${encodeURIComponent(loginBody(email))}`); // misdirected GET
    await c.mutation('auth.changePassword', {
      currentPassword: PASSWORD,
      newPassword: 'the next long passphrase',
    });
    const rotated = c.sessionToken!;
    await c.mutation('auth.logout');
    const log = logLines.join('');
    expect(log.length).toBeGreaterThan(0);
    for (const secret of [
      token,
      token.split('.')[1]!,
      rotated,
      PASSWORD,
      'a wrong password for the log',
      'the next long passphrase',
    ]) {
      expect(log).not.toContain(secret);
    }
    expect(log).toContain(`"sessionId":"${token.slice(0, 26)}"`);
    expect(log).toContain('"sessionEvent":"logged_out"');
  });
});
