/**
 * CSRF, black-box: a page on another site (or a sibling subdomain, a sandboxed iframe, an old browser)
 * sends every mutation of the API with the victim's cookie, in every shape a browser can send without
 * a CORS preflight (text/plain, urlencoded and multipart forms), and some it can't (JSON with a
 * foreign or `null` Origin), batched, as GET, and with other methods. None runs: the victim's two
 * sessions, password, MFA and role are untouched, no response carries CORS headers, and a refused
 * request never sets a cookie. Login CSRF (signing the victim into the attacker's account) too.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD, startApp, type TestApp, uniqueEmail } from '../helpers/app.js';
import { type HttpClient, TEST_ORIGIN } from '../helpers/http.js';
import { mutations } from './procedures.js';

let app: TestApp;
beforeAll(async () => {
  app = await startApp();
});
afterAll(async () => {
  await app?.stop();
});

const EVIL = 'https://evil.example';
const SIBLING = 'http://static.tessera.test';

/** What a cross-site page can make a browser send (headers besides the cookie, and a body). */
interface Attack {
  label: string;
  method?: string;
  headers: Record<string, string>;
  body?: string | FormData | URLSearchParams;
  /** Statuses the server may answer; never 2xx. */
  expect: number[];
}

const json = (input: unknown) => JSON.stringify(input ?? null);
const form = () => {
  const f = new FormData();
  f.set('email', 'attacker@example.com');
  f.set('password', PASSWORD);
  return f;
};

function attacks(input: unknown): Attack[] {
  const crossSite = { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate' };
  return [
    {
      label: 'text/plain form, foreign Origin',
      headers: { ...crossSite, origin: EVIL, 'content-type': 'text/plain' },
      body: json(input),
      expect: [403],
    },
    {
      label: 'urlencoded form, foreign Origin',
      headers: { ...crossSite, origin: EVIL, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ input: json(input) }),
      expect: [403],
    },
    {
      label: 'multipart form, foreign Origin',
      headers: { ...crossSite, origin: EVIL },
      body: form(),
      expect: [403],
    },
    {
      label: 'multipart form, null Origin (sandboxed iframe)',
      headers: { ...crossSite, origin: 'null' },
      body: form(),
      expect: [403],
    },
    {
      label: 'JSON, foreign Origin',
      headers: { origin: EVIL, 'content-type': 'application/json' },
      body: json(input),
      expect: [403],
    },
    {
      label: 'JSON, null Origin',
      headers: { origin: 'null', 'content-type': 'application/json' },
      body: json(input),
      expect: [403],
    },
    {
      label: 'JSON from a sibling subdomain (same-site, not same-origin)',
      headers: { origin: SIBLING, 'sec-fetch-site': 'same-site', 'content-type': 'application/json' },
      body: json(input),
      expect: [403],
    },
    {
      label: 'our Origin but Sec-Fetch-Site: cross-site (spoofed Origin cannot win)',
      headers: { origin: TEST_ORIGIN, 'sec-fetch-site': 'cross-site', 'content-type': 'application/json' },
      body: json(input),
      expect: [403],
    },
    {
      label: 'a form from an old browser (no Origin, no fetch metadata)',
      headers: { 'content-type': 'text/plain' },
      body: json(input),
      expect: [403],
    },
    {
      label: 'same origin, but text/plain',
      headers: { origin: TEST_ORIGIN, 'content-type': 'text/plain' },
      body: json(input),
      expect: [415],
    },
    { label: 'same origin, but multipart', headers: { origin: TEST_ORIGIN }, body: form(), expect: [415] },
    {
      label: 'same origin, but octet-stream',
      headers: { origin: TEST_ORIGIN, 'content-type': 'application/octet-stream' },
      body: json(input),
      expect: [415],
    },
  ];
}

/** A victim with two sessions; the attacker rides the first one's cookie. */
async function victim() {
  const email = uniqueEmail('victim');
  const user = await app.createUser(email, { role: 'admin' });
  const first = app.client();
  const second = app.client();
  for (const c of [first, second]) {
    expect((await c.mutation('auth.login', { email, password: PASSWORD })).status).toBe(200);
  }
  return { email, user, first, second };
}

async function expectUntouched(v: Awaited<ReturnType<typeof victim>>) {
  for (const c of [v.first, v.second]) {
    const me = await c.query('auth.me');
    expect(me.status).toBe(200);
    expect(me.data.user).toMatchObject({ role: 'admin', mfaEnabled: false });
  }
  const again = await app.client().mutation('auth.login', { email: v.email, password: PASSWORD });
  expect(again.status, 'the password is unchanged').toBe(200);
}

function inputFor(path: string, v: Awaited<ReturnType<typeof victim>>, second: HttpClient): unknown {
  const otherId = second.sessionToken!.slice(0, 26);
  switch (path) {
    case 'auth.login':
      return { email: 'attacker@example.com', password: PASSWORD };
    case 'auth.changePassword':
      return { currentPassword: PASSWORD, newPassword: 'attacker chosen passphrase' };
    case 'auth.reauthenticate':
      return { password: PASSWORD };
    case 'sessions.revoke':
      return { sessionId: otherId };
    case 'admin.setRole':
      return { userId: v.user.id, role: 'user' };
    case 'admin.revokeUserSessions':
      return { userId: v.user.id };
    case 'mfa.confirmEnrollment':
    case 'mfa.disable':
      return { code: '123456', revokeOtherSessions: true };
    case 'auth.verifyMfa':
      return { code: '123456' };
    case 'auth.resolveSessionLimit':
      return { ticket: 'x'.repeat(43), revokeSessionId: otherId };
    default:
      return undefined;
  }
}

describe('cross-site requests never run a mutation', () => {
  it('every mutation x every shape a cross-site page can send: refused before it runs', async () => {
    const v = await victim();
    let sent = 0;
    for (const path of mutations()) {
      for (const attack of attacks(inputFor(path, v, v.second))) {
        const res = await v.first.fetch(`/trpc/${path}`, {
          method: attack.method ?? 'POST',
          headers: attack.headers,
          body: attack.body as string,
        });
        sent++;
        const where = `${path}: ${attack.label}`;
        expect(attack.expect, `${where} -> ${res.status}`).toContain(res.status);
        expect(res.headers.getSetCookie(), where).toEqual([]);
        expect(res.headers.get('access-control-allow-origin'), where).toBeNull();
        expect(res.headers.get('access-control-allow-credentials'), where).toBeNull();
        await res.arrayBuffer();
      }
    }
    console.log(`${sent} cross-site mutation attempts refused`);
    await expectUntouched(v);
  });

  it('GET on a mutation (a link or <img>), alone or batched with a query: 405/400, nothing runs', async () => {
    const v = await victim();
    for (const path of mutations()) {
      const input = encodeURIComponent(JSON.stringify(inputFor(path, v, v.second) ?? null));
      for (const url of [
        `/trpc/${path}`,
        `/trpc/${path}?input=${input}`,
        `/trpc/${path}?batch=1&input=${encodeURIComponent(JSON.stringify({ 0: inputFor(path, v, v.second) }))}`,
        `/trpc/auth.me,${path}?batch=1&input=%7B%7D`,
      ]) {
        const res = await v.first.fetch(url);
        expect([400, 405], `${url} -> ${res.status}`).toContain(res.status);
        expect(res.headers.getSetCookie()).toEqual([]);
        await res.arrayBuffer();
      }
    }
    await expectUntouched(v);
  });

  it('batched POSTs from another site, and a batch mixing a query with a mutation: refused', async () => {
    const v = await victim();
    const batch = '/trpc/auth.ping,auth.logout,sessions.revokeOthers?batch=1';
    for (const headers of [
      { origin: EVIL, 'content-type': 'text/plain' },
      { origin: EVIL, 'content-type': 'application/json' },
      { origin: 'null', 'content-type': 'application/json' },
    ]) {
      const res = await v.first.fetch(batch, { method: 'POST', headers, body: '{}' });
      expect(res.status).toBe(403);
    }
    const mixed = await v.first.fetch('/trpc/auth.me,auth.logout?batch=1', {
      method: 'POST',
      headers: { origin: TEST_ORIGIN, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(mixed.status).toBe(400);
    await expectUntouched(v);
  });

  it('other methods (PUT, PATCH, DELETE, OPTIONS preflight): 405 with no CORS headers', async () => {
    const v = await victim();
    for (const method of ['PUT', 'PATCH', 'DELETE', 'OPTIONS']) {
      const res = await v.first.fetch('/trpc/auth.logout', {
        method,
        headers: {
          origin: EVIL,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'content-type',
          'content-type': 'application/json',
        },
        ...(method === 'OPTIONS' ? {} : { body: '{}' }),
      });
      expect(res.status, method).toBe(405);
      expect(
        [...res.headers.keys()].filter((k) => k.startsWith('access-control-')),
        method,
      ).toEqual([]);
    }
    await expectUntouched(v);
  });

  it('a cross-site page reading the API with the cookie (GET, Sec-Fetch-Site: cross-site): 403', async () => {
    const v = await victim();
    for (const path of ['auth.me', 'sessions.list', 'admin.listUsers', 'events.onSessionEnded']) {
      const r = await v.first.query(path, undefined, { 'sec-fetch-site': 'cross-site', origin: EVIL });
      expect(r.status, path).toBe(403);
      expect(r.data, path).toBeUndefined();
    }
  });

  it("login CSRF: a cross-site form can't sign the victim into the attacker's account", async () => {
    const attacker = uniqueEmail('attacker');
    await app.createUser(attacker);
    const browser = app.client();
    for (const attack of attacks({ email: attacker, password: PASSWORD })) {
      const res = await browser.fetch('/trpc/auth.login', {
        method: 'POST',
        headers: attack.headers,
        body: attack.body as string,
      });
      expect(attack.expect).toContain(res.status);
    }
    expect(browser.jar.size).toBe(0);
  });
});
