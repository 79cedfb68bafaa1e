/**
 * A leaked store dump holds no usable token. After a tour that leaves every kind of record behind
 * (live, rotated and ended sessions, a pending MFA challenge, an unredeemed session-limit ticket,
 * rate-limit counters, a device-bound session (DBSC) refreshed once, so that it holds a current and a
 * previous bound cookie and a challenge), the whole store is dumped as an attacker with read access
 * would: every Redis key with its value (SCAN + TYPE + GET/HGETALL/ZRANGE), or every row of every
 * table. Then:
 *  - no issued token, secret, MFA challenge, ticket, bound cookie or DBSC challenge appears in the
 *    dump (as text, hex or base64), nor a TOTP secret (a factor in force, or an enrollment not yet
 *    confirmed);
 *  - every value and every base64url run in it, every hex digest re-encoded, and every "<session id>.
 *    <43-character value>" combination is replayed as a session cookie, as an MFA challenge cookie
 *    (with a valid TOTP code) and as a session-limit ticket: none opens anything;
 *  - the same candidates, sent with the bound session's real session cookie, as the bound cookie
 *    while its real bound cookies live and again once they expired (401 device_unbound every time),
 *    and as the proof of a DBSC refresh (400, no bound cookie comes back);
 *  - positive controls: the real token, challenge and ticket, replayed the same way, do work; so do
 *    the real bound cookies before they expire, and the device's own refresh after the replays;
 *  - a stored password hash used as the password does not sign in.
 */
import { DbscBrowser } from '@tessera/session-core/testing';
import { createTestDatabase, startRedis, type TestDatabase, type TestRedis } from '@tessera/testkit';
import { Redis } from 'ioredis';
import { Secret } from 'otpauth';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { totpCode } from '../../src/auth/totp.js';
import { PASSWORD, type StartOptions, startApp, type TestApp, uniqueEmail } from '../helpers/app.js';
import { DBSC_ORIGIN } from '../helpers/dbsc-suite.js';
import { HttpClient, parseSetCookie } from '../helpers/http.js';

const SESSION = '__Host-tessera';
const BOUND = '__Host-tessera-bound';
/** DBSC_BOUND_COOKIE_TTL's default, plus the 30 s the store still takes a bound cookie past it. */
const BOUND_LIFE = 10 * 60_000 + 30_000;
/** session-core's default registrationGrace: before it passes, the session cookie alone still works. */
const GRACE = 10_000;

/** The server's clock: real time plus what the test skips ahead, so bound cookies expire in test time. */
function testClock() {
  let skipped = 0;
  return {
    now: () => Date.now() + skipped,
    advance: (ms: number) => {
      skipped += ms;
    },
  };
}

/** What the server handed out for device binding: every DBSC challenge and every bound cookie. */
interface HandedOut {
  challenges: string[];
  boundCookies: string[];
}

/** Notes the DBSC secrets a response carries: the sign-in offer's challenge, a refresh's, a bound cookie. */
function note(res: Response, into: HandedOut) {
  const offer = res.headers.get('secure-session-registration');
  if (offer) into.challenges.push(/;challenge="([^"]+)"/.exec(offer)![1]!);
  const challenge = res.headers.get('secure-session-challenge');
  if (challenge) into.challenges.push(/^"([^"]+)"/.exec(challenge)![1]!);
  for (const header of res.headers.getSetCookie()) {
    const { name, value } = parseSetCookie(header);
    if (name === BOUND && value) into.boundCookies.push(value);
  }
}

/**
 * The test client as the app's own pages: APP_ORIGIN is DBSC_ORIGIN (https, where browsers bind),
 * which the client's Origin header is not, so it says `Sec-Fetch-Site: same-origin` as a browser
 * does. Every sign-in now offers a registration: its challenge is noted, so the dump is searched for
 * the challenge of every session, bound or not.
 */
class AppClient extends HttpClient {
  constructor(
    base: string,
    private readonly handedOut: HandedOut,
  ) {
    super(base, { 'sec-fetch-site': 'same-origin' });
  }

  override async fetch(path: string, init: RequestInit & { headers?: Record<string, string> } = {}) {
    const res = await super.fetch(path, init);
    note(res, this.handedOut);
    return res;
  }
}

/** The app reached through AppClient, and what it handed out. */
type DumpApp = TestApp & { handedOut: HandedOut; clock: ReturnType<typeof testClock> };

async function startDumpApp(options: StartOptions): Promise<DumpApp> {
  const clock = testClock();
  const app = await startApp({ ...options, compose: { clock: clock.now } });
  const handedOut: HandedOut = { challenges: [], boundCookies: [] };
  const client = () => new AppClient(app.url, handedOut);
  return {
    ...app,
    handedOut,
    clock,
    client,
    async signedIn(email, o = {}) {
      await app.createUser(email, o);
      const c = client();
      const r = await c.mutation('auth.login', { email, password: o.password ?? PASSWORD });
      expect(r.status, JSON.stringify(r.error)).toBe(200);
      return c;
    },
  };
}

interface Issued {
  tokens: string[];
  live: HttpClient;
  challenge: string;
  ticket: string;
  mfaSecret: string;
  /** Shown by mfa.beginEnrollment, not confirmed: it waits in the session store. */
  pendingSecret: string;
  mfaEmail: string;
  email: string;
  /** A session bound to a DBSC browser's key, refreshed once. */
  bound: { browser: DbscBrowser; id: string };
}

/**
 * A DBSC browser signs in, binds its session and refreshes it once: the store then holds a current
 * and a previous bound cookie (hashes) and the challenge for the next refresh.
 */
async function boundTour(app: DumpApp): Promise<Issued['bound']> {
  const browser = new DbscBrowser({
    origin: app.url,
    clock: app.clock.now,
    headers: { 'sec-fetch-site': 'same-origin' },
    async fetch(url, init) {
      const res = await fetch(url, init);
      note(res, app.handedOut);
      return res;
    },
  });
  const email = uniqueEmail('dump-bound');
  await app.createUser(email);
  const login = await browser.request('/trpc/auth.login', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password: PASSWORD }),
  });
  expect(login.status).toBe(200);
  const [id] = [...browser.sessions.keys()];
  const before = app.handedOut.boundCookies.length;
  expect(await browser.refresh(id!)).toBe(200); // a 403 with a challenge, then the signed one
  expect(browser.events.map((e) => e.type)).toEqual(['registered', 'challenged', 'refreshed']);
  expect(app.handedOut.boundCookies.length).toBe(before + 1);
  return { browser, id: id! };
}

/** Leaves every kind of record behind; returns what was issued. */
async function tour(app: DumpApp): Promise<Issued> {
  const tokens: string[] = [];
  const email = uniqueEmail('dump');
  await app.createUser(email);
  const a = app.client();
  const b = app.client();
  await a.mutation('auth.login', { email, password: PASSWORD });
  tokens.push(a.sessionToken!);
  await b.mutation('auth.login', { email, password: PASSWORD });
  tokens.push(b.sessionToken!);
  await a.mutation('auth.reauthenticate', { password: PASSWORD }); // rotated: an old hash hint stays
  tokens.push(a.sessionToken!);
  const c = app.client();
  const conflict = await c.mutation('auth.login', { email, password: PASSWORD }); // at the limit (2)
  expect(conflict.status).toBe(409);
  const ticket = conflict.error!.data.sessionLimit.ticket as string;
  await b.mutation('auth.logout'); // a tombstone
  // A user with MFA, signed out, then half-way through signing in: a pending challenge.
  const mfaEmail = uniqueEmail('dump-mfa');
  const m = await app.signedIn(mfaEmail);
  tokens.push(m.sessionToken!);
  const { secret } = (await m.mutation('mfa.beginEnrollment')).data;
  await m.mutation('mfa.confirmEnrollment', { code: totpCode(secret, Date.now() - 30_000) });
  tokens.push(m.sessionToken!);
  await m.mutation('auth.logout');
  const pending = app.client();
  expect((await pending.mutation('auth.login', { email: mfaEmail, password: PASSWORD })).data.status).toBe(
    'mfa_required',
  );
  await app.client().mutation('auth.login', { email, password: 'a wrong password' }); // a counter
  const enrolling = await app.signedIn(uniqueEmail('dump-pending'));
  const pendingSecret = (await enrolling.mutation('mfa.beginEnrollment')).data.secret as string;
  const bound = await boundTour(app);
  tokens.push(bound.browser.cookie(SESSION)!);
  // The five sign-ins that made a session offered a registration; the refresh's 403 and 200 one each.
  expect(app.handedOut.challenges).toHaveLength(7);
  expect(app.handedOut.boundCookies).toHaveLength(2);
  return {
    tokens,
    live: a,
    challenge: pending.jar.get('__Host-tessera-mfa')!,
    ticket,
    mfaSecret: secret,
    pendingSecret,
    mfaEmail,
    email,
    bound,
  };
}

const BASE64URL_RUN = /[A-Za-z0-9_-]{16,}/g;
const HEX_RUN = /(?:\\x)?([0-9a-f]{64})/g;

/** Every string an attacker would try, from a list of dumped texts. */
function candidatesFrom(dump: string[], sessionIds: string[]): Set<string> {
  const out = new Set<string>();
  const long43 = new Set<string>();
  for (const text of dump) {
    out.add(text);
    for (const run of text.match(BASE64URL_RUN) ?? []) {
      out.add(run);
      if (run.length >= 43) long43.add(run.slice(0, 43));
      if (run.length === 70) out.add(`${run.slice(0, 26)}.${run.slice(27)}`);
    }
    for (const [, hex] of text.matchAll(HEX_RUN)) {
      const b64 = Buffer.from(hex!, 'hex').toString('base64url');
      out.add(b64);
      long43.add(b64);
    }
  }
  for (const id of sessionIds) for (const value of long43) out.add(`${id}.${value}`);
  return out;
}

/** A 43-character base64url secret as a dump could hold it: as is, or its bytes in hex or base64. */
const encodings = (secret: string) => {
  const bytes = Buffer.from(secret, 'base64url');
  return [secret, bytes.toString('hex'), bytes.toString('base64')];
};

const leaks = (dump: string, issued: Issued, handedOut: HandedOut) => {
  const secrets = [
    // Session tokens and bound cookies: `<session id>.<secret>`, whole or the secret alone.
    ...[...issued.tokens, ...handedOut.boundCookies].flatMap((t) => [t, ...encodings(t.slice(27))]),
    ...handedOut.challenges.flatMap(encodings),
    issued.challenge,
    issued.ticket,
    ...[issued.mfaSecret, issued.pendingSecret].flatMap((s) => {
      const bytes = Buffer.from(Secret.fromBase32(s).bytes);
      return [s, bytes.toString('hex'), bytes.toString('base64')];
    }),
  ];
  return secrets.filter((s) => dump.includes(s));
};

/** Replays every candidate three ways; returns how many were tried. */
async function replay(app: TestApp, issued: Issued, candidates: Set<string>) {
  const victimId = issued.live.sessionToken!.slice(0, 26);
  let tried = 0;
  for (const value of candidates) {
    if (value.length > 4096 || /[^\x21-\x7e]/.test(value)) continue; // not sendable as a cookie
    const asSession = app.client();
    asSession.jar.set('__Host-tessera', value);
    const me = await asSession.query('auth.me');
    expect(me.status, `session cookie ${value.slice(0, 40)}`).toBe(401);
    if (/^[A-Za-z0-9_-]{43}$/.test(value)) {
      const asChallenge = app.client();
      asChallenge.jar.set('__Host-tessera-mfa', value);
      const verify = await asChallenge.mutation('auth.verifyMfa', { code: totpCode(issued.mfaSecret) });
      expect(verify.error?.data.reason, `MFA challenge ${value}`).toBe('mfa_challenge_invalid');
      const asTicket = await app
        .client()
        .mutation('auth.resolveSessionLimit', { ticket: value, revokeSessionId: victimId });
      expect(asTicket.error?.data.reason, `ticket ${value}`).toBe('ticket_invalid');
    }
    tried++;
  }
  return tried;
}

/** The real secrets, replayed the same way, work: the replay would have caught a usable value. */
async function positiveControls(app: TestApp, issued: Issued) {
  const session = app.client();
  session.jar.set('__Host-tessera', issued.live.sessionToken!);
  expect((await session.query('auth.me')).status).toBe(200);
  const challenge = app.client();
  challenge.jar.set('__Host-tessera-mfa', issued.challenge);
  expect((await challenge.mutation('auth.verifyMfa', { code: totpCode(issued.mfaSecret) })).status).toBe(200);
  const ticket = await app.client().mutation('auth.resolveSessionLimit', {
    ticket: issued.ticket,
    revokeSessionId: issued.live.sessionToken!.slice(0, 26),
  });
  expect(ticket.status).toBe(200);
}

/** auth.me with the bound session's real session cookie and this bound cookie (or none). */
function asBound(app: DumpApp, issued: Issued, bound: string | null) {
  const c = app.client();
  c.jar.set(SESSION, issued.bound.browser.cookie(SESSION)!);
  if (bound !== null) c.jar.set(BOUND, bound);
  return c.query('auth.me');
}

/** Every sendable candidate as the bound cookie, with the real session cookie: 401 device_unbound. */
async function replayAsBound(app: DumpApp, issued: Issued, candidates: Set<string>) {
  let tried = 0;
  for (const value of candidates) {
    if (value.length > 4096 || /[^\x21-\x7e]/.test(value)) continue; // not sendable as a cookie
    const me = await asBound(app, issued, value);
    expect(me.status, `bound cookie ${value.slice(0, 40)}`).toBe(401);
    expect(me.error?.data.reason, `bound cookie ${value.slice(0, 40)}`).toBe('device_unbound');
    tried++;
  }
  return tried;
}

/**
 * The bound session against the dump, with its real session cookie throughout (the thief's case):
 *  - positive controls, past the registration grace: the real current and previous bound cookies
 *    work; the session cookie alone is refused;
 *  - every candidate as the bound cookie while the real ones are live (a stored preimage would pass),
 *    and again once the clock passed their life (TTL + 30 s slack), when the real ones are refused
 *    too; then as the proof of a refresh: refused (400), no bound cookie;
 *  - the device itself still refreshes afterwards, and its new bound cookie opens the session.
 * Returns how many candidates were tried.
 */
async function replayBound(app: DumpApp, issued: Issued, candidates: Set<string>) {
  const { browser, id } = issued.bound;
  const [previous, current] = app.handedOut.boundCookies;
  app.clock.advance(GRACE);
  expect((await asBound(app, issued, current!)).status).toBe(200);
  expect((await asBound(app, issued, previous!)).status).toBe(200);
  expect((await asBound(app, issued, null)).error?.data.reason).toBe('device_unbound');
  const tried = await replayAsBound(app, issued, candidates);

  app.clock.advance(BOUND_LIFE);
  for (const expired of [current!, previous!]) {
    expect((await asBound(app, issued, expired)).error?.data.reason).toBe('device_unbound');
  }
  await replayAsBound(app, issued, candidates);
  const token = browser.cookie(SESSION)!;
  for (const value of candidates) {
    if (value.length > 4096 || /[^\x21-\x7e]/.test(value)) continue; // not sendable as a header
    const asProof = await fetch(`${app.url}/dbsc/refresh`, {
      method: 'POST',
      headers: {
        cookie: `${SESSION}=${token}`,
        'sec-fetch-site': 'same-origin',
        'sec-secure-session-id': id,
        'secure-session-response': value,
      },
    });
    expect(asProof.status, `proof ${value.slice(0, 40)}`).toBe(400);
    expect(asProof.headers.getSetCookie(), `proof ${value.slice(0, 40)}`).toEqual([]);
  }

  expect(await browser.refresh(id)).toBe(200);
  expect(browser.events.at(-1)?.type).toBe('refreshed');
  expect((await browser.request('/trpc/auth.me')).status).toBe(200);
  return tried;
}

const ENV = {
  SESSION_LIMIT_POLICY: 'reject',
  SESSION_MAX_PER_USER: '2',
  APP_ORIGIN: DBSC_ORIGIN,
  DBSC: 'on',
};

describe('a Redis dump holds no usable token', () => {
  let redis: TestRedis;
  let app: DumpApp;
  let client: Redis;
  beforeAll(async () => {
    redis = await startRedis();
    app = await startDumpApp({ redisUrl: redis.url, env: ENV });
    client = new Redis(redis.url);
  });
  afterAll(async () => {
    client?.disconnect();
    await app?.stop();
    await redis?.stop();
  });

  it('every key and value, replayed as cookie, challenge, ticket, bound cookie and proof, opens nothing', async () => {
    const issued = await tour(app);
    const texts: string[] = [];
    const sessionIds: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'COUNT', 1000);
      cursor = next;
      for (const key of keys) {
        texts.push(key);
        const id = /^tessera:s:\{(.{4})\}(.+)$/.exec(key);
        if (id) sessionIds.push(id[1]! + id[2]!);
        const type = await client.type(key);
        if (type === 'string') texts.push((await client.get(key)) ?? '');
        else if (type === 'hash') texts.push(...Object.entries(await client.hgetall(key)).flat());
        else if (type === 'zset') texts.push(...(await client.zrange(key, 0, -1, 'WITHSCORES')));
        else if (type === 'set') texts.push(...(await client.smembers(key)));
        else if (type === 'list') texts.push(...(await client.lrange(key, 0, -1)));
        else throw new Error(`unexpected key type ${type} for ${key}`);
      }
    } while (cursor !== '0');
    const dump = texts.join('\n');
    expect(sessionIds.length).toBeGreaterThanOrEqual(3);
    expect(dump).toContain('tessera:g:'); // the challenge and the ticket are in there (hashed)
    // The bound session's key, current and previous bound cookie and challenge are in there (hashed).
    const { id } = issued.bound;
    const boundFields = await client.hgetall(`tessera:s:{${id.slice(0, 4)}}${id.slice(4)}`);
    expect(Object.keys(boundFields)).toEqual(expect.arrayContaining(['k', 'kj', 'kb', 'kc', 'b', 'b1']));
    expect(sessionIds).toContain(id);
    expect(leaks(dump, issued, app.handedOut)).toEqual([]);
    const candidates = candidatesFrom(texts, sessionIds);
    const tried = await replay(app, issued, candidates);
    await positiveControls(app, issued);
    const triedBound = await replayBound(app, issued, candidates);
    console.log(
      `Redis dump: ${texts.length} keys/values, ${tried} candidates replayed as cookie, challenge and ticket, ${triedBound} as bound cookie (twice) and proof, none usable`,
    );
  }, 120_000);
});

describe('a PostgreSQL dump (sessions in SQL) holds no usable token', () => {
  let db: TestDatabase;
  let app: DumpApp;
  let client: pg.Client;
  beforeAll(async () => {
    db = await createTestDatabase();
    app = await startDumpApp({ databaseUrl: db.url, env: ENV });
    client = new pg.Client(db.url);
    await client.connect();
  });
  afterAll(async () => {
    await client?.end();
    await app?.stop();
    await db?.drop();
  });

  it('every row of every table, replayed as cookie, challenge, ticket, bound cookie and proof, opens nothing', async () => {
    const issued = await tour(app);
    const tables = await client.query<{ table_name: string }>(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1",
    );
    const texts: string[] = [];
    const sessionIds: string[] = [];
    for (const { table_name } of tables.rows) {
      const rows = await client.query<{ row: Record<string, unknown> }>(
        `SELECT row_to_json(t) AS row FROM ${client.escapeIdentifier(table_name)} t`,
      );
      for (const { row } of rows.rows) {
        texts.push(JSON.stringify(row));
        for (const value of Object.values(row)) if (value !== null) texts.push(String(value));
        if (table_name === 'tessera_sessions') sessionIds.push(String(row.id));
      }
    }
    expect(tables.rows.map((r) => r.table_name)).toEqual(
      expect.arrayContaining([
        'tessera_sessions',
        'tessera_users',
        'tessera_auth_grants',
        'tessera_rate_limits',
      ]),
    );
    expect(sessionIds.length).toBeGreaterThanOrEqual(3);
    // The bound session's key, current and previous bound cookie and challenge are in there (hashed).
    const { id } = issued.bound;
    const bound = await client.query(
      'SELECT bound_jwk, bound_at, dbsc_challenge, bound_hash, bound_prev_hash FROM tessera_sessions WHERE id = $1',
      [id],
    );
    expect(Object.values(bound.rows[0] ?? {})).toHaveLength(5);
    expect(Object.values(bound.rows[0]).filter((v) => v === null)).toEqual([]);
    expect(sessionIds).toContain(id);
    const dump = texts.join('\n');
    expect(leaks(dump, issued, app.handedOut)).toEqual([]);
    const candidates = candidatesFrom(texts, sessionIds);
    const tried = await replay(app, issued, candidates);
    // A stored password hash is not the password.
    const hashes = await client.query<{ password_hash: string }>('SELECT password_hash FROM tessera_users');
    for (const { password_hash } of hashes.rows) {
      const r = await app.client().mutation('auth.login', { email: issued.email, password: password_hash });
      expect(r.status).toBe(401);
    }
    await positiveControls(app, issued);
    const triedBound = await replayBound(app, issued, candidates);
    console.log(
      `PostgreSQL dump: ${tables.rowCount} tables, ${tried} candidates replayed as cookie, challenge and ticket, ${triedBound} as bound cookie (twice) and proof, none usable`,
    );
  }, 120_000);
});
