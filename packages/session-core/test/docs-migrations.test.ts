/**
 * The migration guides' shims run as a consumer runs them: compiled from docs/examples into a scratch
 * project that imports the built package. express-session + connect-redis against a real Redis (a
 * `sess:<sid>` JSON and a cookie signed as express-session signs it); Lucia against PGlite and PostgreSQL
 * (its session table, a token per its token guide, v3 rows). Then each guide's per-request glue.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { createTestDatabase, startRedis, type TestDatabase, type TestRedis } from '@tessera/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSessionManager, type SessionManager } from '../src/index.js';
import { redisStore } from '../src/stores/redis/index.js';
import { pgliteStore } from '../src/stores/sql/pglite.js';
import { scratchProject } from './helpers/docs-examples.js';

type ExpressShim =
  typeof import('../docs/examples/migrate-from-express-session/express-session-migration.js');
type ExpressGlue = typeof import('../docs/examples/migrate-from-express-session/current-session.js');
type ExpressSessions = typeof import('../docs/examples/migrate-from-express-session/sessions.js');
type LuciaShim = typeof import('../docs/examples/migrate-from-lucia/lucia-migration.js');
type LuciaGlue = typeof import('../docs/examples/migrate-from-lucia/current-session.js');
type LuciaSessions = typeof import('../docs/examples/migrate-from-lucia/sessions.js');

let scratch: ReturnType<typeof scratchProject>;
beforeAll(() => {
  scratch = scratchProject();
});
afterAll(() => scratch?.remove());

/** An example module as the scratch project compiled it (its imports resolve to the built package). */
function load<T>(file: string): Promise<T> {
  return import(pathToFileURL(join(scratch.dir, file)).href) as Promise<T>;
}

/** express-session's signed cookie value: `s:` + cookie-signature's sign (base64 HMAC-SHA256, no '='). */
function signed(sid: string, secret: string): string {
  return `s:${sid}.${createHmac('sha256', secret).update(sid).digest('base64').replace(/=+$/, '')}`;
}

/** The Cookie header a browser sends back: the value URL-encoded, as express-session's `cookie` wrote it. */
function connectSid(sid: string, secret: string): string {
  return `connect.sid=${encodeURIComponent(signed(sid, secret))}`;
}

describe('migrate from express-session + connect-redis', () => {
  const SECRETS = ['current secret', 'rotated-out secret'];
  const MONTH = 30 * 24 * 60 * 60;
  let redis: TestRedis;
  let client: Redis;
  let shim: ExpressShim;
  let sessions: SessionManager;
  let migration: ReturnType<ExpressShim['expressSessionMigration']>;

  beforeAll(async () => {
    redis = await startRedis();
    client = new Redis(redis.url);
    shim = await load<ExpressShim>('migrate-from-express-session/express-session-migration.js');
    sessions = createSessionManager({ store: redisStore({ client, tagSecret: randomBytes(32) }) });
    migration = shim.expressSessionMigration({
      sessions,
      redis: client,
      secrets: SECRETS,
      maxAgeSeconds: MONTH,
    });
  });
  afterAll(async () => {
    client?.disconnect();
    await redis?.stop();
  });

  /** What express-session + connect-redis leave behind: `sess:<sid>` (JSON, TTL) and the signed cookie. */
  async function oldSession(data: object, secret = SECRETS[0]!, expires = Date.now() + MONTH * 1000) {
    const sid = randomBytes(24).toString('base64url'); // uid-safe(24), express-session's generator
    const cookie = {
      originalMaxAge: MONTH * 1000,
      expires: new Date(expires).toISOString(),
      httpOnly: true,
      path: '/',
    };
    await client.set(`sess:${sid}`, JSON.stringify({ cookie, ...data }), 'EX', MONTH);
    return { sid, cookie: connectSid(sid, secret) };
  }

  it('reads the signature cookie-signature computes (a vector made with cookie-signature 1.0.7)', () => {
    const value = 's%3Ax0pxQEd1u3vkKWCmBZ5yi-ZsBI8jYpTq.4KGsO%2BUgR7OARMClrnSJynfj2L7NOWB2kGt%2BPQtnMIs';
    expect(shim.unsignSessionId(value, ['keyboard cat'])).toBe('x0pxQEd1u3vkKWCmBZ5yi-ZsBI8jYpTq');
    expect(shim.unsignSessionId(value, ['keyboard dog'])).toBeNull();
    expect(connectSid('x0pxQEd1u3vkKWCmBZ5yi-ZsBI8jYpTq', 'keyboard cat')).toBe(`connect.sid=${value}`);
  });

  it('a validly signed connect.sid of a signed-in user: a Tessera session for them, the old key gone', async () => {
    // Signed with the older of the two secrets: express-session still accepted it, so must the shim.
    const old = await oldSession({ passport: { user: '42' } }, SECRETS[1]);
    const moved = await migration.migrate({
      cookie: `theme=dark; ${old.cookie}`,
      userAgent: 'UA',
      ip: '10.0.0.1',
    });
    expect(moved?.session).toMatchObject({ userId: '42', userAgent: 'UA', ip: '10.0.0.1' });
    expect(moved!.setCookie[0]).toMatch(new RegExp(`^${sessions.cookieName}=${moved!.token};`));
    expect(moved!.setCookie[1]).toMatch(/^connect\.sid=; Path=\/; Max-Age=0;/);
    expect(await client.exists(`sess:${old.sid}`)).toBe(0);
    expect((await sessions.validate(moved!.token)).session?.userId).toBe('42');
    // Once: the same cookie again finds nothing to move.
    expect(await migration.migrate({ cookie: old.cookie })).toBeNull();
    expect(await sessions.list('42')).toHaveLength(1);
  });

  it('the user id from `userId` when there is no passport, and data the app chose to keep', async () => {
    const keep = shim.expressSessionMigration({
      sessions,
      redis: client,
      secrets: SECRETS,
      maxAgeSeconds: MONTH,
      data: (old) => ({ role: old.role }),
    });
    const old = await oldSession({ userId: 7, role: 'admin', cart: [1, 2] });
    const moved = await keep.migrate({ cookie: old.cookie });
    expect(moved?.session).toMatchObject({ userId: '7', data: { role: 'admin' } });
  });

  it('refuses a bad signature, an unsigned id and an unknown secret; the old session stays', async () => {
    const old = await oldSession({ passport: { user: 'u-bad' } });
    const [, signature] = signed(old.sid, SECRETS[0]!).split('.');
    const other = randomBytes(24).toString('base64url');
    const forged = [
      connectSid(old.sid, 'a secret the app never had'),
      `connect.sid=${encodeURIComponent(`s:${old.sid}.${signature!.slice(0, -1)}A`)}`, // one character off
      `connect.sid=${encodeURIComponent(`s:${other}.${signature}`)}`, // another id under this signature
      `connect.sid=${old.sid}`, // unsigned: express-session ignores it too
      `connect.sid=${encodeURIComponent(`s:${old.sid}`)}`,
      'connect.sid=%E0%A4%A', // not URL-decodable
    ];
    for (const cookie of forged) expect(await migration.migrate({ cookie }), cookie).toBeNull();
    expect(await client.exists(`sess:${old.sid}`)).toBe(1);
    expect(await sessions.list('u-bad')).toEqual([]);
  });

  it('leaves a request without the old cookie, or with an anonymous or expired old session, untouched', async () => {
    const anonymous = await oldSession({}); // saveUninitialized: a visitor who never signed in
    const expired = await oldSession({ passport: { user: 'u-late' } }, SECRETS[0], Date.now() - 1000);
    const keys = await client.dbsize();
    for (const cookie of [undefined, null, '', 'theme=dark', anonymous.cookie, expired.cookie]) {
      expect(await migration.migrate({ cookie }), String(cookie)).toBeNull();
    }
    expect(await client.dbsize()).toBe(keys); // no Tessera key made, no old one removed
    expect(await sessions.list('u-late')).toEqual([]);
  });

  it('parallel requests carrying one old cookie turn it into exactly one Tessera session', async () => {
    const old = await oldSession({ passport: { user: 'u-race' } });
    const results = await Promise.all(
      Array.from({ length: 8 }, () => migration.migrate({ cookie: old.cookie })),
    );
    const winners = results.filter((r) => r !== null);
    expect(winners).toHaveLength(1);
    expect((await sessions.list('u-race')).map((s) => s.id)).toEqual([winners[0]!.session.id]);
  });

  it('while the Tessera store is down: the error surfaces (a 503), the old session is put back', async () => {
    const old = await oldSession({ passport: { user: 'u-outage' } });
    // A Redis nobody listens on: every command fails at once, as in an outage.
    const down = new Redis({
      port: 1,
      enableOfflineQueue: false,
      lazyConnect: true,
      retryStrategy: () => null,
    });
    down.on('error', () => {});
    const dead = createSessionManager({ store: redisStore({ client: down, tagSecret: randomBytes(32) }) });
    const during = shim.expressSessionMigration({
      sessions: dead,
      redis: client,
      secrets: SECRETS,
      maxAgeSeconds: MONTH,
    });
    await expect(during.migrate({ cookie: old.cookie })).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
    down.disconnect();
    expect(await client.ttl(`sess:${old.sid}`)).toBeGreaterThan(MONTH - 60);
    expect((await migration.migrate({ cookie: old.cookie }))?.session.userId).toBe('u-outage');
  });

  it("revokeAll ends the user's Tessera sessions and stops their old ones from migrating", async () => {
    const old = await oldSession({ passport: { user: 'u-pw' } });
    const current = await sessions.create({ userId: 'u-pw' });
    const other = await sessions.create({ userId: 'u-pw' });
    expect(
      await migration.revokeAll('u-pw', { except: current.session.id, reason: 'password_changed' }),
    ).toBe(1);
    expect((await sessions.validate(other.token)).session).toBeNull();
    expect(await migration.migrate({ cookie: old.cookie })).toBeNull();
    expect((await sessions.list('u-pw')).map((s) => s.id)).toEqual([current.session.id]);
  });

  it('the guide glue (current-session.ts) over node:http: the old cookie signs in once, then the new one', async () => {
    process.env.REDIS_URL = redis.url;
    process.env.SESSION_TAG_SECRET = randomBytes(32).toString('base64');
    process.env.EXPRESS_SESSION_SECRETS = SECRETS.join(',');
    const glue = await load<ExpressGlue>('migrate-from-express-session/current-session.js');
    const { redis: appRedis } = await load<ExpressSessions>('migrate-from-express-session/sessions.js');
    const server = createServer((req, res) => {
      glue.currentSession(req, res).then(
        (s) => res.writeHead(s.session ? 200 : 401).end(s.session ? `hello ${s.session.userId}` : s.reason),
        (error: unknown) => res.writeHead(500).end(String(error)),
      );
    });
    try {
      const get = await listen(server);
      const old = await oldSession({ passport: { user: 'u-glue' } });
      const first = await get(`lang=en; ${old.cookie}`);
      expect(first).toMatchObject({ status: 200, body: 'hello u-glue' });
      expect(first.setCookie).toHaveLength(2);
      expect(first.setCookie[1]).toMatch(/^connect\.sid=;/);
      const tessera = first.setCookie[0]!.split(';')[0]!;
      expect(tessera).toMatch(/^__Host-tessera=/);
      expect(first.setCookie[0]).toMatch(/Max-Age=\d+/); // persistent, as connect.sid was
      // The browser now sends both until it drops connect.sid: Tessera's cookie wins, nothing migrates.
      expect(await get(`${tessera}; ${old.cookie}`)).toMatchObject({
        status: 200,
        body: 'hello u-glue',
        setCookie: [],
      });
      expect(await get(old.cookie)).toMatchObject({ status: 401, body: 'missing', setCookie: [] });
      expect(await get(null)).toMatchObject({ status: 401, body: 'missing' });
    } finally {
      await new Promise((done) => server.close(done));
      appRedis.disconnect();
    }
  });
});

/** RFC 4648 base32, lower case, no padding: oslo's encodeBase32LowerCaseNoPadding, as Lucia uses it. */
function base32(bytes: Uint8Array): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(buffer >> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return bits > 0 ? out + alphabet[(buffer << (5 - bits)) & 31] : out;
}

/** Lucia's token guide: a token of 20 random bytes in base32; the row id is its SHA-256 in hex. */
function luciaToken(): { token: string; id: string } {
  const token = base32(randomBytes(20));
  return { token, id: createHash('sha256').update(token).digest('hex') };
}

/** Lucia v3's session id (generateIdFromEntropySize(25)): the cookie carries it as is. */
const luciaV3Id = () => base32(randomBytes(25));

const DAY = 24 * 60 * 60 * 1000;

describe('migrate from Lucia', () => {
  let db: PGlite;
  let shim: LuciaShim;
  let sessions: SessionManager;
  let guide: ReturnType<LuciaShim['luciaMigration']>;
  let v3: ReturnType<LuciaShim['luciaMigration']>;

  beforeAll(async () => {
    db = await PGlite.create();
    // The token guide's PostgreSQL schema, and Lucia v3's (@lucia-auth/adapter-postgresql, text user
    // ids) with a session attribute, in a schema of its own.
    await db.exec(`
      CREATE TABLE app_user (id SERIAL PRIMARY KEY, username TEXT NOT NULL UNIQUE);
      CREATE TABLE user_session (
        id TEXT NOT NULL PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES app_user(id),
        expires_at TIMESTAMPTZ NOT NULL
      );
      INSERT INTO app_user (username) VALUES ('ada'), ('grace'), ('edsger');
      CREATE SCHEMA v3;
      CREATE TABLE v3.auth_user (id TEXT PRIMARY KEY);
      CREATE TABLE v3.user_session (
        id TEXT PRIMARY KEY,
        expires_at TIMESTAMPTZ NOT NULL,
        user_id TEXT NOT NULL REFERENCES v3.auth_user(id),
        ip_country TEXT
      );
      INSERT INTO v3.auth_user (id) VALUES ('usr_ada'), ('usr_grace');
    `);
    shim = await load<LuciaShim>('migrate-from-lucia/lucia-migration.js');
    sessions = createSessionManager({ store: pgliteStore({ db }) });
    guide = shim.luciaMigration({ sessions, db, cookieName: 'session' });
    v3 = shim.luciaMigration({
      sessions,
      db,
      table: 'v3.user_session',
      data: (row) => ({ country: row.ip_country }),
    });
  });
  afterAll(async () => {
    await db?.close();
  });

  const rowExists = async (table: string, id: string) =>
    (await db.query(`SELECT 1 FROM ${table} WHERE id = $1`, [id])).rows.length === 1;

  async function guideSession(userId: number, expiresAt = new Date(Date.now() + 30 * DAY)) {
    const { token, id } = luciaToken();
    await db.query('INSERT INTO user_session (id, user_id, expires_at) VALUES ($1, $2, $3)', [
      id,
      userId,
      expiresAt,
    ]);
    return { token, id };
  }

  it("a live session of Lucia's token guide: a Tessera session for its user, the row deleted", async () => {
    const { token, id } = await guideSession(1);
    const moved = await guide.migrate({ cookie: `session=${token}`, userAgent: 'UA' });
    expect(moved?.session).toMatchObject({ userId: '1', userAgent: 'UA' });
    expect(moved!.setCookie[0]).toMatch(new RegExp(`^${sessions.cookieName}=${moved!.token};`));
    expect(moved!.setCookie[1]).toMatch(/^session=; Path=\/; Max-Age=0;/);
    expect(await rowExists('user_session', id)).toBe(false);
    expect((await sessions.validate(moved!.token)).session?.userId).toBe('1');
    expect(await guide.migrate({ cookie: `session=${token}` })).toBeNull(); // once
  });

  it('a live Lucia v3 session (the cookie is the id): migrated with its attribute as data', async () => {
    const id = luciaV3Id();
    await db.query(
      'INSERT INTO v3.user_session (id, expires_at, user_id, ip_country) VALUES ($1, $2, $3, $4)',
      [id, new Date(Date.now() + 20 * DAY), 'usr_ada', 'NL'],
    );
    const moved = await v3.migrate({ cookie: `auth_session=${id}` });
    expect(moved?.session).toMatchObject({ userId: 'usr_ada', data: { country: 'NL' } });
    expect(moved!.setCookie[1]).toMatch(/^auth_session=;/);
    expect(await rowExists('v3.user_session', id)).toBe(false);
  });

  it('an expired Lucia session is not migrated (and its row is left to Lucia or its sweep)', async () => {
    const { token, id } = await guideSession(2, new Date(Date.now() - 1000));
    expect(await guide.migrate({ cookie: `session=${token}` })).toBeNull();
    expect(await rowExists('user_session', id)).toBe(true);
    expect(await sessions.list('2')).toEqual([]);
  });

  it("refuses what isn't a Lucia cookie: a row id read from a leaked table, unknown tokens, no cookie", async () => {
    const { token, id } = await guideSession(3);
    const cookies = [
      `session=${id}`, // the stored SHA-256: must not open the session it names
      `session=${luciaToken().token}`,
      `session=${token.toUpperCase()}`,
      `session=${luciaV3Id()}`,
      'theme=dark',
      null,
      undefined,
    ];
    for (const cookie of cookies) expect(await guide.migrate({ cookie }), String(cookie)).toBeNull();
    expect(await rowExists('user_session', id)).toBe(true);
    expect(await sessions.list('3')).toEqual([]);
  });

  it('parallel requests carrying one Lucia cookie turn it into exactly one Tessera session', async () => {
    const id = luciaV3Id();
    await db.query('INSERT INTO v3.user_session (id, expires_at, user_id) VALUES ($1, $2, $3)', [
      id,
      new Date(Date.now() + DAY),
      'usr_grace',
    ]);
    const results = await Promise.all(
      Array.from({ length: 8 }, () => v3.migrate({ cookie: `auth_session=${id}` })),
    );
    const winners = results.filter((r) => r !== null);
    expect(winners).toHaveLength(1);
    expect((await sessions.list('usr_grace')).map((s) => s.id)).toEqual([winners[0]!.session.id]);
  });

  it('while the Tessera store is down: the error surfaces (a 503), the Lucia row is put back', async () => {
    const expiresAt = new Date(Date.now() + 10 * DAY);
    const { token, id } = await guideSession(2, expiresAt);
    const closed = await PGlite.create();
    await closed.close();
    const dead = createSessionManager({ store: pgliteStore({ db: closed }) });
    const during = shim.luciaMigration({ sessions: dead, db, cookieName: 'session' });
    await expect(during.migrate({ cookie: `session=${token}` })).rejects.toMatchObject({
      code: 'STORE_UNAVAILABLE',
    });
    const [row] = (
      await db.query<{ expires_at: Date }>('SELECT expires_at FROM user_session WHERE id = $1', [id])
    ).rows;
    expect(row?.expires_at.getTime()).toBe(expiresAt.getTime());
    expect((await guide.migrate({ cookie: `session=${token}` }))?.session.userId).toBe('2');
  });

  it("revokeAll ends the user's Tessera sessions and deletes their Lucia rows", async () => {
    const old = await guideSession(3);
    const current = await sessions.create({ userId: '3' });
    await sessions.create({ userId: '3' });
    expect(await guide.revokeAll('3', { except: current.session.id, reason: 'password_changed' })).toBe(1);
    expect(await rowExists('user_session', old.id)).toBe(false);
    expect(await guide.migrate({ cookie: `session=${old.token}` })).toBeNull();
    expect((await sessions.list('3')).map((s) => s.id)).toEqual([current.session.id]);
  });
});

describe("the Lucia guide's glue (current-session.ts) over PostgreSQL, with Web Request and Headers", () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database?.drop();
  });

  it('a v3 cookie and a token-guide token in auth_session both sign in once; then the Tessera cookie', async () => {
    const setup = database.pool();
    await setup.query(`
      CREATE TABLE auth_user (id TEXT PRIMARY KEY);
      CREATE TABLE user_session (
        id TEXT PRIMARY KEY,
        expires_at TIMESTAMPTZ NOT NULL,
        user_id TEXT NOT NULL REFERENCES auth_user(id)
      );
      INSERT INTO auth_user (id) VALUES ('u-v3'), ('u-token');
    `);
    const v3Id = luciaV3Id();
    const { token, id: tokenId } = luciaToken();
    const insert = 'INSERT INTO user_session (id, expires_at, user_id) VALUES ($1, $2, $3)';
    await setup.query(insert, [v3Id, new Date(Date.now() + DAY), 'u-v3']);
    await setup.query(insert, [tokenId, new Date(Date.now() + DAY), 'u-token']);

    process.env.DATABASE_URL = database.url;
    const glue = await load<LuciaGlue>('migrate-from-lucia/current-session.js');
    const { pool } = await load<LuciaSessions>('migrate-from-lucia/sessions.js');
    const request = (cookie: string | null) =>
      new Request('https://app.example/', { headers: cookie ? { cookie } : {} });
    try {
      for (const [cookie, userId] of [
        [`auth_session=${v3Id}`, 'u-v3'],
        [`auth_session=${token}`, 'u-token'],
      ] as const) {
        const headers = new Headers();
        const s = await glue.currentSession(request(`theme=dark; ${cookie}`), headers);
        expect(s.session?.userId).toBe(userId);
        const [tessera, cleared] = headers.getSetCookie();
        expect(tessera).toMatch(new RegExp(`^__Host-tessera=${s.token}; Path=/; Max-Age=\\d+`));
        expect(cleared).toMatch(/^auth_session=; Path=\/; Max-Age=0/);

        const next = new Headers();
        const again = await glue.currentSession(request(`${tessera!.split(';')[0]}; ${cookie}`), next);
        expect(again).toMatchObject({ session: { userId }, reason: null, token: s.token });
        expect(next.getSetCookie()).toEqual([]);
        expect(await glue.currentSession(request(cookie), new Headers())).toMatchObject({
          reason: 'missing',
        });
      }
      expect((await setup.query('SELECT count(*)::int AS n FROM user_session')).rows[0].n).toBe(0);
    } finally {
      await pool.end();
    }
  });
});

/** Listens on a free port; returns a GET with an optional Cookie header. */
async function listen(server: Server) {
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  return async (cookie: string | null) => {
    const res = await fetch(`http://127.0.0.1:${port}/`, { headers: cookie ? { cookie } : {} });
    return { status: res.status, body: await res.text(), setCookie: res.headers.getSetCookie() };
  };
}
