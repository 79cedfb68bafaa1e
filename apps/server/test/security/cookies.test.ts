/**
 * The session cookie as an attacker meets it, over real HTTP (sessions in a private Redis):
 *  - its attributes on EVERY response of a full tour that sets or clears it (sign-in, MFA, rotation on
 *    re-authentication, password, MFA and role change, session-limit ticket, logout, expiry, a dead,
 *    malformed or duplicated cookie);
 *  - fixation: a planted session, a planted made-up token, a planted MFA challenge;
 *  - tokens that must open nothing: before sign-in, while MFA is pending, after logout, rotation,
 *    revocation and expiry, the public id alone, another session's secret;
 *  - hostile Cookie headers (duplicate, malformed, 8 KB, 64 KB, 1,000 cookies): a 4xx or a clean
 *    "no session", never a 5xx, and the server stays healthy.
 */
import net from 'node:net';
import { startRedis, type TestRedis } from '@tessera/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { totpCode } from '../../src/auth/totp.js';
import { PASSWORD, sleep, startApp, type TestApp, uniqueEmail } from '../helpers/app.js';
import { type HttpClient, parseSetCookie } from '../helpers/http.js';
import { type Exchange, RecordingClient } from '../helpers/recording.js';

const SESSION = '__Host-tessera';
const MFA = '__Host-tessera-mfa';
const TOKEN = /^[A-Za-z0-9_-]{26}\.[A-Za-z0-9_-]{43}$/;

let redis: TestRedis;
let app: TestApp;
let reject: TestApp;
let short: TestApp;
const log: Exchange[] = [];

beforeAll(async () => {
  redis = await startRedis();
  [app, reject, short] = await Promise.all([
    startApp({ redisUrl: redis.url, compose: { redisPrefix: 'main:' } }),
    startApp({
      redisUrl: redis.url,
      compose: { redisPrefix: 'reject:' },
      env: { SESSION_LIMIT_POLICY: 'reject', SESSION_MAX_PER_USER: '1' },
    }),
    startApp({
      redisUrl: redis.url,
      compose: { redisPrefix: 'short:' },
      env: { SESSION_IDLE_TIMEOUT: '1s', SESSION_ABSOLUTE_TIMEOUT: '3s' },
    }),
  ]);
});
afterAll(async () => {
  await Promise.all([app?.stop(), reject?.stop(), short?.stop()]);
  await redis?.stop();
});

const recording = (target: TestApp) => new RecordingClient(target.url, {}, log);

/** A recording client signed in as a new user. */
async function signedIn(target: TestApp, email = uniqueEmail(), role: 'user' | 'admin' = 'user') {
  await target.createUser(email, { role });
  const c = recording(target);
  const r = await c.mutation('auth.login', { email, password: PASSWORD });
  expect(r.status).toBe(200);
  return { c, email };
}

/** The same cookies in a new recording client. */
const holding = (target: TestApp, token: string) => {
  const c = recording(target);
  c.jar.set(SESSION, token);
  return c;
};

describe('cookie attributes on every response that sets or clears a cookie', () => {
  it('a full tour: every Set-Cookie is one of four well-formed shapes', async () => {
    // Sign-in, reads, re-authentication (rotation), password change (rotation, others cleared).
    const { c, email } = await signedIn(app);
    const other = recording(app);
    await other.mutation('auth.login', { email, password: PASSWORD });
    await c.query('auth.me');
    await c.mutation('auth.ping');
    await c.mutation('auth.reauthenticate', { password: PASSWORD });
    await c.mutation('auth.changePassword', {
      currentPassword: PASSWORD,
      newPassword: 'the tour passphrase 1',
    });
    await other.query('auth.me'); // password_changed: cleared
    // MFA enrollment (rotation), then an MFA sign-in (challenge cookie set, code, challenge cleared).
    const { secret } = (await c.mutation('mfa.beginEnrollment')).data;
    await c.mutation('mfa.confirmEnrollment', { code: totpCode(secret, Date.now() - 30_000) });
    const mfa = recording(app);
    await mfa.mutation('auth.login', { email, password: 'the tour passphrase 1' });
    await mfa.mutation('auth.verifyMfa', { code: '000000' === totpCode(secret) ? '111111' : '000000' });
    await mfa.mutation('auth.verifyMfa', { code: totpCode(secret) });
    // Revocation by another session, then the revoked one calls: cleared.
    await mfa.mutation('sessions.revoke', { sessionId: c.sessionToken!.slice(0, 26) });
    const revoked = c.clone();
    await revoked.query('auth.me');
    // Role change: the next request of the user's session carries a new cookie.
    const { c: boss } = await signedIn(app, uniqueEmail('boss'), 'admin');
    const { c: target } = await signedIn(app);
    const targetId = (await target.query('auth.me')).data.user.id;
    await boss.mutation('admin.setRole', { userId: targetId, role: 'admin' });
    await target.query('auth.me');
    // Dead, malformed and duplicated cookies: cleared.
    await holding(
      app,
      target.sessionToken!.replace(/.$/, (ch) => (ch === 'A' ? 'B' : 'A')),
    ).query('auth.me');
    await holding(app, 'not-a-token').query('auth.me');
    await recording(app).query('auth.me', undefined, {
      cookie: `${SESSION}=${target.sessionToken}; ${SESSION}=${target.sessionToken}`,
    });
    // Logout (session and any challenge cleared), then the logged-out token: cleared again.
    const loggedOut = target.sessionToken!;
    await target.mutation('auth.logout');
    await holding(app, loggedOut).query('auth.me');
    // Session limit (reject, max 1): CONFLICT sets nothing; the ticket signs in.
    const { email: limited } = await signedIn(reject);
    const second = recording(reject);
    const conflict = await second.mutation('auth.login', { email: limited, password: PASSWORD });
    expect(conflict.status).toBe(409);
    const { ticket, sessions } = conflict.error!.data.sessionLimit;
    await second.mutation('auth.resolveSessionLimit', { ticket, revokeSessionId: sessions[0].id });
    // Idle expiry (1 s): cleared.
    const { c: idle } = await signedIn(short);
    await sleep(1_100);
    await idle.query('auth.me');

    const seen = { set: 0, cleared: 0, mfaSet: 0, mfaCleared: 0 };
    for (const exchange of log) {
      for (const header of exchange.setCookies) {
        const cookie = parseSetCookie(header);
        const where = `${exchange.method} ${exchange.url}: ${header}`;
        expect(cookie.attributes.httponly, where).toBe(true);
        expect(cookie.attributes.secure, where).toBe(true);
        expect(cookie.attributes.path, where).toBe('/');
        expect(cookie.attributes.domain, where).toBeUndefined();
        expect(cookie.attributes.expires, where).toBeUndefined();
        if (cookie.name === SESSION) {
          expect(cookie.attributes.samesite, where).toBe('Lax');
          if (cookie.value === '') {
            expect(cookie.attributes['max-age'], where).toBe('0');
            seen.cleared++;
          } else {
            expect(cookie.value, where).toMatch(TOKEN);
            // A browser-session cookie: it dies with the browser; the server enforces the deadlines.
            expect(cookie.attributes['max-age'], where).toBeUndefined();
            seen.set++;
          }
        } else {
          expect(cookie.name, where).toBe(MFA);
          expect(cookie.attributes.samesite, where).toBe('Strict');
          if (cookie.value === '') {
            expect(cookie.attributes['max-age'], where).toBe('0');
            seen.mfaCleared++;
          } else {
            expect(cookie.value, where).toMatch(/^[A-Za-z0-9_-]{43}$/);
            expect(cookie.attributes['max-age'], where).toBe('600');
            seen.mfaSet++;
          }
        }
      }
      // One Set-Cookie per cookie name per response.
      const names = exchange.setCookies.map((h) => parseSetCookie(h).name);
      expect(new Set(names).size, exchange.url).toBe(names.length);
    }
    console.log(`checked ${log.length} responses: ${JSON.stringify(seen)}`);
    expect(seen.set).toBeGreaterThanOrEqual(10);
    expect(seen.cleared).toBeGreaterThanOrEqual(7);
    expect(seen.mfaSet).toBeGreaterThanOrEqual(1);
    expect(seen.mfaCleared).toBeGreaterThanOrEqual(1);
  });

  it('without COOKIE_SECURE (plain-HTTP development): "tessera", HttpOnly, SameSite=Lax, no Secure', async () => {
    const dev = await startApp({ env: { COOKIE_SECURE: 'false' } });
    try {
      const email = uniqueEmail();
      await dev.createUser(email);
      const r = await dev.client().mutation('auth.login', { email, password: PASSWORD });
      const cookie = parseSetCookie(r.setCookies[0]!);
      expect(cookie.name).toBe('tessera');
      expect(cookie.attributes).toEqual({ path: '/', httponly: true, samesite: 'Lax' });
    } finally {
      await dev.stop();
    }
  });
});

describe('fixation: whatever the browser carried before sign-in is never adopted', () => {
  it("a planted session of the attacker's own is ended by the victim's sign-in", async () => {
    const { c: attacker } = await signedIn(app, uniqueEmail('attacker'));
    const planted = attacker.sessionToken!;
    const email = uniqueEmail('victim');
    await app.createUser(email);
    const victim = holding(app, planted);
    const r = await victim.mutation('auth.login', { email, password: PASSWORD });
    expect(r.status).toBe(200);
    expect(victim.sessionToken).not.toBe(planted);
    expect(victim.sessionToken!.slice(0, 26)).not.toBe(planted.slice(0, 26));
    expect((await holding(app, planted).query('auth.me')).status).toBe(401);
    expect((await victim.query('auth.me')).data.user.email).toBe(email);
  });

  it('a planted made-up token is never issued: the sign-in mints its own', async () => {
    const made = `${'A'.repeat(26)}.${'B'.repeat(43)}`;
    const email = uniqueEmail('victim');
    await app.createUser(email);
    const victim = holding(app, made);
    expect((await victim.mutation('auth.login', { email, password: PASSWORD })).status).toBe(200);
    expect(victim.sessionToken).not.toBe(made);
    expect((await holding(app, made).query('auth.me')).error?.data.reason).toBe('unknown');
  });

  it("a planted MFA challenge of the attacker's is consumed by the victim's sign-in, never completed", async () => {
    // The attacker has MFA and passes the password step: a challenge cookie.
    const { c: a, email: attackerEmail } = await signedIn(app, uniqueEmail('attacker'));
    const { secret } = (await a.mutation('mfa.beginEnrollment')).data;
    await a.mutation('mfa.confirmEnrollment', { code: totpCode(secret, Date.now() - 30_000) });
    const pending = recording(app);
    expect(
      (await pending.mutation('auth.login', { email: attackerEmail, password: PASSWORD })).data.status,
    ).toBe('mfa_required');
    const challenge = pending.jar.get(MFA)!;
    // Planted in the victim's browser; the victim (no MFA) signs in.
    const email = uniqueEmail('victim');
    await app.createUser(email);
    const victim = recording(app);
    victim.jar.set(MFA, challenge);
    const r = await victim.mutation('auth.login', { email, password: PASSWORD });
    expect(r.data.status).toBe('signed_in');
    expect(victim.jar.has(MFA)).toBe(false);
    expect((await victim.query('auth.me')).data.user.email).toBe(email);
    // The challenge is dead: even the right code can't finish it.
    const finish = await pending.mutation('auth.verifyMfa', { code: totpCode(secret) });
    expect(finish.status).toBe(401);
    expect(finish.error?.data.reason).toBe('mfa_challenge_invalid');
  });

  it('a planted duplicate (e.g. set for a parent domain) is refused, and sign-in still works', async () => {
    const { c: attacker } = await signedIn(app, uniqueEmail('attacker'));
    const email = uniqueEmail('victim');
    await app.createUser(email);
    const victim = recording(app);
    const r = await victim.mutation(
      'auth.login',
      { email, password: PASSWORD },
      { cookie: `${SESSION}=${attacker.sessionToken}; ${SESSION}=junk` },
    );
    expect(r.status).toBe(200);
    expect(victim.sessionToken).not.toBe(attacker.sessionToken);
    expect((await victim.query('auth.me')).data.user.email).toBe(email);
  });
});

describe('tokens that must open nothing', () => {
  it('before sign-in: no response to an anonymous caller ever sets a session', async () => {
    const anon = recording(app);
    for (const path of ['auth.me', 'sessions.list', 'admin.listUsers']) {
      expect((await anon.query(path)).status).toBe(401);
    }
    // The event stream answers 200 (SSE) but carries only the UNAUTHORIZED error, no data.
    const stream = await anon.fetch('/trpc/events.onSessionEnded');
    const events = await stream.text();
    expect(events).toContain('"code":"UNAUTHORIZED"');
    expect(events).not.toMatch(/^data: \{"sessionId"/m);
    for (const path of ['auth.ping', 'auth.logout', 'sessions.revokeOthers', 'mfa.beginEnrollment'])
      await anon.mutation(path);
    expect(anon.jar.size).toBe(0);
  });

  it('MFA pending: the challenge opens nothing but auth.verifyMfa', async () => {
    const { c, email } = await signedIn(app);
    const { secret } = (await c.mutation('mfa.beginEnrollment')).data;
    await c.mutation('mfa.confirmEnrollment', { code: totpCode(secret, Date.now() - 30_000) });
    const pending = recording(app);
    await pending.mutation('auth.login', { email, password: PASSWORD });
    expect([...pending.jar.keys()]).toEqual([MFA]);
    for (const path of ['auth.me', 'sessions.list']) {
      const r = await pending.query(path);
      expect(r.status).toBe(401);
      expect(r.error?.data.reason).toBe('missing');
    }
    expect((await pending.mutation('auth.ping')).status).toBe(401);
    // The challenge value as a session cookie: malformed, never looked up.
    const asSession = await holding(app, pending.jar.get(MFA)!).query('auth.me');
    expect(asSession.error?.data.reason).toBe('malformed');
  });

  it('after logout, rotation and revocation; the public id alone; another session secret', async () => {
    const { c, email } = await signedIn(app);
    const first = c.sessionToken!;
    await c.mutation('auth.reauthenticate', { password: PASSWORD });
    const second = c.sessionToken!;
    const other = recording(app);
    await other.mutation('auth.login', { email, password: PASSWORD });
    const rotatedAway = await holding(app, first).query('sessions.list');
    expect(rotatedAway.error?.data.reason).toBe('rotated');
    expect(rotatedAway.setCookies).toEqual([]); // the browser most likely holds the successor already
    const cases: [string, string, string][] = [
      ['a rotated-away token', first, 'unknown'], // once the session ended, it is just unknown
      ['the public id alone', second.slice(0, 26), 'malformed'],
      [
        'the id with another session secret',
        `${second.slice(0, 26)}.${other.sessionToken!.slice(27)}`,
        'unknown',
      ],
    ];
    await c.mutation('auth.logout');
    cases.push(['a logged-out token', second, 'logged_out']);
    const victimOfRevoke = recording(app);
    await victimOfRevoke.mutation('auth.login', { email, password: PASSWORD });
    await other.mutation('auth.reauthenticate', { password: PASSWORD });
    await other.mutation('sessions.revoke', { sessionId: victimOfRevoke.sessionToken!.slice(0, 26) });
    cases.push(['a revoked token', victimOfRevoke.sessionToken!, 'revoked']);
    for (const [label, token, reason] of cases) {
      const r = await holding(app, token).query('sessions.list');
      expect(r.status, label).toBe(401);
      expect(r.error?.data.reason, label).toBe(reason);
      expect(r.data, label).toBeUndefined();
    }
  });

  it('after the idle timeout and after the absolute timeout', async () => {
    const { c } = await signedIn(short);
    const token = c.sessionToken!;
    await sleep(1_100);
    expect((await holding(short, token).query('auth.me')).error?.data.reason).toBe('idle_timeout');
    // The session was created between these two instants. Activity (a ping every 400 ms, well inside
    // the 1 s idle timeout) stops while it is surely younger than 3 s: a ping past the absolute
    // timeout would itself end the session and clear the cookie, and the last check would see no
    // cookie at all. The check comes once it is surely older than 3 s.
    const beforeLogin = Date.now();
    const { c: busy } = await signedIn(short);
    const afterLogin = Date.now();
    while (Date.now() - beforeLogin < 2_600) {
      await busy.mutation('auth.ping');
      await sleep(400);
    }
    await sleep(Math.max(0, afterLogin + 3_050 - Date.now()));
    expect((await busy.query('auth.me')).error?.data.reason).toBe('absolute_timeout');
  });
});

/**
 * Sends raw bytes (what fetch refuses to send) and returns the response status. The socket stays
 * open for writing (`Connection: close` ends it): a half-closed socket would be dropped by Node's
 * HTTP server before a response that needs a store round trip is written.
 */
function rawStatus(target: TestApp, request: Buffer): Promise<number> {
  const { port } = new URL(target.url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), '127.0.0.1', () => socket.write(request));
    let data = '';
    socket.on('data', (d) => (data += d.toString('latin1')));
    socket.on('close', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0)));
    socket.on('error', reject);
    socket.setTimeout(10_000, () => socket.destroy());
  });
}

describe('hostile Cookie headers: a 4xx or a clean "no session", never a 5xx', () => {
  let victim: HttpClient;
  let token: string;
  beforeAll(async () => {
    ({ c: victim } = await signedIn(app));
    token = victim.sessionToken!;
  });

  const cases = (): [string, string, number, string | null][] => [
    ['duplicate, same value', `${SESSION}=${token}; ${SESSION}=${token}`, 401, 'duplicate'],
    ['duplicate, different values', `${SESSION}=${token}; ${SESSION}=x`, 401, 'duplicate'],
    ['one character short', `${SESSION}=${token.slice(0, -1)}`, 401, 'malformed'],
    ['one character long', `${SESSION}=${token}A`, 401, 'malformed'],
    [
      'the dot moved',
      `${SESSION}=${token.slice(0, 25)}.${token.slice(25, 26)}${token.slice(27)}`,
      401,
      'malformed',
    ],
    ['a non-base64url character', `${SESSION}=${token.slice(0, 30)}!${token.slice(31)}`, 401, 'malformed'],
    ['percent-encoded', `${SESSION}=${encodeURIComponent(token).replace('.', '%2E')}`, 401, 'malformed'],
    ['quoted (RFC 6265 allows it)', `${SESSION}="${token}"`, 200, null],
    ['an empty value', `${SESSION}=`, 401, 'missing'],
    ['no value at all', SESSION, 401, 'missing'],
    ['the name in lower case', `__host-tessera=${token}`, 401, 'missing'],
    ['another prefix', `__Secure-tessera=${token}`, 401, 'missing'],
    ['8 KB value', `${SESSION}=${'A'.repeat(8 * 1024)}`, 401, 'malformed'],
    ['8 KB of other cookies, then ours', `${'x=1; '.repeat(1600)}${SESSION}=${token}`, 200, null],
    [
      '1,000 cookies, then ours',
      `${Array.from({ length: 1000 }, (_, i) => `c${i}=v`).join('; ')}; ${SESSION}=${token}`,
      200,
      null,
    ],
    ['64 KB header', `${SESSION}=${'A'.repeat(64 * 1024)}`, 431, null],
  ];

  it('each gives the expected status and reason, and the session stays usable', async () => {
    for (const [label, cookie, status, reason] of cases()) {
      const r = await recording(app).query('auth.me', undefined, { cookie });
      expect(r.status, label).toBe(status);
      if (reason) expect(r.error?.data.reason, label).toBe(reason);
      if (status === 401 && reason !== 'missing') {
        expect(
          r.setCookies.map((h) => parseSetCookie(h)),
          label,
        ).toEqual([expect.objectContaining({ name: SESSION, value: '' })]);
      }
    }
    expect((await victim.query('auth.me')).status).toBe(200);
  });

  it('raw bytes fetch would refuse (NUL, DEL, 0xFF, a bare CR) get a 4xx, and the server stays up', async () => {
    for (const bytes of [[0x00], [0x7f], [0xff, 0xfe], [0x0d, 0x41], [0xc3, 0xa9]]) {
      const head = Buffer.concat([
        Buffer.from(`GET /trpc/auth.me HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: ${SESSION}=`),
        Buffer.from(bytes),
        Buffer.from(`${token.slice(2)}\r\n\r\n`),
      ]);
      const status = await rawStatus(app, head);
      expect(status, `bytes ${bytes}`).toBeGreaterThanOrEqual(400);
      expect(status, `bytes ${bytes}`).toBeLessThan(500);
    }
    expect((await fetch(`${app.url}/healthz`)).status).toBe(200);
    expect((await victim.query('auth.me')).status).toBe(200);
  });
});
