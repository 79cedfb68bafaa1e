/**
 * A leaked store dump holds no usable token. After a tour that leaves every kind of record behind
 * (live, rotated and ended sessions, a pending MFA challenge, an unredeemed session-limit ticket,
 * rate-limit counters), the whole store is dumped as an attacker with read access would: every Redis
 * key with its value (SCAN + TYPE + GET/HGETALL/ZRANGE), or every row of every table. Then:
 *  - no issued token, secret, MFA challenge or ticket appears in the dump (as text, hex or base64),
 *    nor a TOTP secret (a factor in force, or an enrollment not yet confirmed);
 *  - every value and every base64url run in it, every hex digest re-encoded, and every "<session id>.
 *    <43-character value>" combination is replayed as a session cookie, as an MFA challenge cookie
 *    (with a valid TOTP code) and as a session-limit ticket: none opens anything;
 *  - positive controls: the real token, challenge and ticket, replayed the same way, do work;
 *  - a stored password hash used as the password does not sign in.
 */
import { createTestDatabase, startRedis, type TestDatabase, type TestRedis } from '@tessera/testkit';
import { Redis } from 'ioredis';
import { Secret } from 'otpauth';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { totpCode } from '../../src/auth/totp.js';
import { PASSWORD, type StartOptions, startApp, type TestApp, uniqueEmail } from '../helpers/app.js';
import type { HttpClient } from '../helpers/http.js';

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
}

/** Leaves every kind of record behind; returns what was issued. */
async function tour(app: TestApp): Promise<Issued> {
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
  return {
    tokens,
    live: a,
    challenge: pending.jar.get('__Host-tessera-mfa')!,
    ticket,
    mfaSecret: secret,
    pendingSecret,
    mfaEmail,
    email,
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

const leaks = (dump: string, issued: Issued) => {
  const secrets = [
    ...issued.tokens.flatMap((t) => {
      const secret = t.slice(27);
      const bytes = Buffer.from(secret, 'base64url');
      return [t, secret, bytes.toString('hex'), bytes.toString('base64')];
    }),
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

const ENV = { SESSION_LIMIT_POLICY: 'reject', SESSION_MAX_PER_USER: '2' };

describe('a Redis dump holds no usable token', () => {
  let redis: TestRedis;
  let app: TestApp;
  let client: Redis;
  beforeAll(async () => {
    redis = await startRedis();
    app = await startApp({ redisUrl: redis.url, env: ENV });
    client = new Redis(redis.url);
  });
  afterAll(async () => {
    client?.disconnect();
    await app?.stop();
    await redis?.stop();
  });

  it('every key and value, replayed as cookie, challenge and ticket, opens nothing', async () => {
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
    expect(leaks(dump, issued)).toEqual([]);
    const candidates = candidatesFrom(texts, sessionIds);
    const tried = await replay(app, issued, candidates);
    console.log(
      `Redis dump: ${texts.length} keys/values, ${tried} candidates replayed three ways, none usable`,
    );
    await positiveControls(app, issued);
  }, 120_000);
});

describe('a PostgreSQL dump (sessions in SQL) holds no usable token', () => {
  let db: TestDatabase;
  let app: TestApp;
  let client: pg.Client;
  beforeAll(async () => {
    db = await createTestDatabase();
    const options: StartOptions = { databaseUrl: db.url, env: ENV };
    app = await startApp(options);
    client = new pg.Client(db.url);
    await client.connect();
  });
  afterAll(async () => {
    await client?.end();
    await app?.stop();
    await db?.drop();
  });

  it('every row of every table, replayed as cookie, challenge and ticket, opens nothing', async () => {
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
    const dump = texts.join('\n');
    expect(leaks(dump, issued)).toEqual([]);
    const tried = await replay(app, issued, candidatesFrom(texts, sessionIds));
    console.log(
      `PostgreSQL dump: ${tables.rowCount} tables, ${tried} candidates replayed three ways, none usable`,
    );
    // A stored password hash is not the password.
    const hashes = await client.query<{ password_hash: string }>('SELECT password_hash FROM tessera_users');
    for (const { password_hash } of hashes.rows) {
      const r = await app.client().mutation('auth.login', { email: issued.email, password: password_hash });
      expect(r.status).toBe(401);
    }
    await positiveControls(app, issued);
  }, 120_000);
});
