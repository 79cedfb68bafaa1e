/**
 * Tokens never leave through a side channel. A full tour of the API (sign-in, MFA, rotation, session
 * limit with a ticket, revocation, password and role change, event stream, logout, errors, and a
 * Redis outage in the middle) is recorded on the wire, and the server's own log is captured at
 * `trace`. Then no session token or its secret, no MFA challenge token and no password appears in a
 * URL, a response body or header (other than Set-Cookie), or the log; no limit ticket or TOTP secret
 * appears in the log; and list outputs carry exactly their documented fields, never a token or hash.
 */
import { Writable } from 'node:stream';
import { startRedis, type TestRedis } from '@tessera/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { totpCode } from '../../src/auth/totp.js';
import { createLogger } from '../../src/logger.js';
import { PASSWORD, startApp, type TestApp, uniqueEmail } from '../helpers/app.js';
import { type Exchange, RecordingClient } from '../helpers/recording.js';
import { subscribeSessionEnded } from '../helpers/sse.js';

let redis: TestRedis;
let app: TestApp;
const logLines: string[] = [];
const wire: Exchange[] = [];
/** Values that must never leave through a side channel. */
const secrets = { tokens: new Set<string>(), challenges: new Set<string>(), tickets: new Set<string>() };
const passwords = [PASSWORD, 'the second passphrase 2', 'a wrong password typed here'];
let totpSecret = '';

beforeAll(async () => {
  redis = await startRedis();
  const sink = new Writable({
    write(chunk, _encoding, done) {
      logLines.push(String(chunk));
      done();
    },
  });
  app = await startApp({
    redisUrl: redis.url,
    env: { SESSION_MAX_PER_USER: '2', SESSION_LIMIT_POLICY: 'reject', LOG_LEVEL: 'trace' },
    compose: { logger: createLogger({ logLevel: 'trace' }, sink) },
  });
});
afterAll(async () => {
  await app?.stop();
  await redis?.stop();
});

const client = () => new RecordingClient(app.url, {}, wire);
const keep = (c: RecordingClient) => {
  for (const [name, value] of c.jar) {
    if (name === '__Host-tessera') secrets.tokens.add(value);
    if (name === '__Host-tessera-mfa') secrets.challenges.add(value);
  }
};

async function tour() {
  const email = uniqueEmail('tour');
  const { id: userId } = await app.createUser(email, { role: 'admin' });
  const a = client();
  await a.mutation('auth.login', { email, password: passwords[2] });
  await a.mutation('auth.login', { email, password: PASSWORD });
  keep(a);
  await a.query('auth.me');
  await a.query('sessions.list');
  await a.query('admin.listUsers');
  await a.mutation('auth.reauthenticate', { password: PASSWORD });
  keep(a);
  // A second session, then the limit (2, reject): a CONFLICT with a ticket, resolved.
  const b = client();
  await b.mutation('auth.login', { email, password: PASSWORD });
  keep(b);
  const c = client();
  const conflict = await c.mutation('auth.login', { email, password: PASSWORD });
  expect(conflict.status).toBe(409);
  const { ticket, sessions } = conflict.error!.data.sessionLimit;
  secrets.tickets.add(ticket);
  const bId = sessions.find((s: { id: string }) => s.id === b.sessionToken!.slice(0, 26)).id;
  const stream = await subscribeSessionEnded(b);
  await c.mutation('auth.resolveSessionLimit', { ticket, revokeSessionId: bId });
  keep(c);
  await stream.next();
  stream.close();
  await b.query('auth.me'); // revoked
  // MFA: enrollment (rotation), an MFA sign-in with a wrong then a right code.
  const begin = await a.mutation('mfa.beginEnrollment');
  totpSecret = begin.data.secret;
  await a.mutation('mfa.confirmEnrollment', { code: totpCode(totpSecret, Date.now() - 30_000) });
  keep(a);
  await c.mutation('auth.logout');
  const m = client();
  await m.mutation('auth.login', { email, password: PASSWORD });
  keep(m);
  await m.mutation('auth.verifyMfa', { code: totpCode(totpSecret) === '000000' ? '111111' : '000000' });
  await m.mutation('auth.verifyMfa', { code: totpCode(totpSecret) });
  keep(m);
  // Role change (rotation on the next request), password change (rotation, others ended).
  await a.mutation('admin.setRole', { userId, role: 'admin' });
  await m.query('auth.me');
  keep(m);
  await a.mutation('auth.changePassword', { currentPassword: PASSWORD, newPassword: passwords[1] });
  keep(a);
  await m.query('auth.me');
  // Errors: bad input, unknown procedure, a misdirected GET with the input in the URL.
  await a.mutation('sessions.revoke', { sessionId: 'x'.repeat(500) });
  await a.query('nope.nothing');
  await a.fetch(
    `/trpc/auth.login?input=${encodeURIComponent(JSON.stringify({ email, password: passwords[1] }))}`,
  );
  // Redis goes away mid-tour: 503s, logged (with their causes), then back.
  await redis.kill();
  await a.query('auth.me');
  await client().mutation('auth.login', { email, password: passwords[1] });
  await redis.start();
  for (let i = 0; i < 50 && (await fetch(`${app.url}/readyz`)).status !== 200; i++) {
    await new Promise((r) => setTimeout(r, 100));
  }
  const z = client();
  await z.mutation('auth.login', { email, password: passwords[1] });
  keep(z);
  await z.mutation('auth.logout');
}

describe('a full tour of the API, recorded on the wire and in the log', () => {
  beforeAll(tour, 60_000);

  it('recorded enough to mean something', () => {
    expect(secrets.tokens.size).toBeGreaterThanOrEqual(8);
    expect(secrets.challenges.size).toBeGreaterThanOrEqual(1);
    expect(secrets.tickets.size).toBe(1);
    expect(wire.length).toBeGreaterThan(25);
    expect(logLines.length).toBeGreaterThan(50);
  });

  const needles = () => [
    ...[...secrets.tokens].flatMap((t) => [t, t.slice(27)]),
    ...secrets.challenges,
    ...passwords,
  ];

  it('no token, secret, challenge or password in a URL, a response body or a response header', () => {
    for (const x of wire) {
      const visible = [x.url, x.responseBody, ...x.responseHeaders.map(([k, v]) => `${k}: ${v}`)].join('\n');
      for (const needle of needles()) {
        expect(visible.includes(needle), `${x.method} ${x.url} shows a secret`).toBe(false);
      }
      expect(x.responseHeaders.find(([k]) => k === 'location')).toBeUndefined();
    }
  });

  it('no token, secret, challenge, ticket, password or TOTP secret in the log', () => {
    const log = logLines.join('');
    for (const needle of [...needles(), ...secrets.tickets, totpSecret]) {
      expect(log.includes(needle), `the log contains ${needle.slice(0, 6)}...`).toBe(false);
    }
    // What the log does say: public ids, events and the outage.
    expect(log).toContain('"sessionEvent":"created"');
    expect(log).toContain('"sessionEvent":"revoked"');
    expect(log).toContain('dependency unavailable');
  });

  it('list outputs have exactly their documented fields: never a token, a hash or a secret', () => {
    const lists = wire.filter((x) => /sessions\.list|admin\.listUsers/.test(x.url) && x.status === 200);
    expect(lists.length).toBeGreaterThanOrEqual(2);
    for (const x of lists) {
      const data = JSON.parse(x.responseBody).result.data;
      if (/sessions\.list/.test(x.url)) {
        for (const s of data) {
          expect(Object.keys(s).sort()).toEqual(
            [
              'absoluteExpiresAt',
              'browser',
              'createdAt',
              'current',
              'device',
              'deviceBoundAt',
              'id',
              'idleExpiresAt',
              'ip',
              'lastActivityAt',
              'os',
              'userAgent',
            ].sort(),
          );
          expect(s.id).toMatch(/^[A-Za-z0-9_-]{26}$/);
        }
      } else {
        for (const u of data.users) {
          expect(Object.keys(u)).not.toContain('passwordHash');
          expect(JSON.stringify(u)).not.toMatch(/argon2|mfaSecret/);
        }
      }
    }
    const conflict = wire.find((x) => x.status === 409)!;
    for (const s of JSON.parse(conflict.responseBody).error.data.sessionLimit.sessions) {
      expect(Object.keys(s).sort()).toEqual(
        ['browser', 'createdAt', 'device', 'id', 'ip', 'lastActivityAt', 'os', 'userAgent'].sort(),
      );
    }
  });
});
