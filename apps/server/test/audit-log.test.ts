/**
 * The audit trail's storage (audit/audit-log.ts) on the real databases it runs on, PGlite and
 * PostgreSQL: what record() keeps and refuses, batching, keyset pagination with every filter,
 * retention, and what happens while the database is down (the action always wins; nothing recorded
 * is lost while it fits in the queue).
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import {
  createTestDatabase,
  type PrivatePostgres,
  startPrivatePostgres,
  type TestDatabase,
} from '@tessera/testkit';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { InvalidAuditCursorError, type SqlAuditLogOptions, sqlAuditLog } from '../src/audit/audit-log.js';
import {
  AUDIT_EVENT_TYPES,
  type AuditEvent,
  type AuditEventInput,
  type AuditLog,
  type AuditQuery,
} from '../src/audit/events.js';
import { type Database, pgliteDatabase, postgresDatabase } from '../src/infra/database.js';
import { migrate } from '../src/infra/migrations.js';
import { UnavailableError } from '../src/infra/unavailable.js';
import { createLogger } from '../src/logger.js';
import { freshDataDir } from './helpers/app.js';
import { waitFor } from './helpers/load.js';

const DAY = 86_400_000;

/** A logger whose lines a test can read. */
function recordingLogger() {
  const lines: { level: number; msg: string; [key: string]: unknown }[] = [];
  const logger = createLogger(
    { logLevel: 'debug' },
    { write: (line: string) => void lines.push(JSON.parse(line)) },
  );
  return { logger, lines, messages: (part: string) => lines.filter((l) => l.msg.includes(part)) };
}

/** The database, counting the statements that reach it. */
function counting(db: Database) {
  const statements: string[] = [];
  const wrapped: Database = {
    ...db,
    query: (sql, params) => {
      statements.push(sql.trim().split(/\s+/)[0]!.toUpperCase());
      return db.query(sql, params);
    },
  };
  return { db: wrapped, count: (verb: string) => statements.filter((s) => s === verb).length };
}

const event = (over: Partial<AuditEventInput> = {}): AuditEventInput => ({
  type: 'sign_in',
  userId: 'user-a',
  actor: { kind: 'self', userId: 'user-a', sessionId: 'sess-a' },
  ip: '203.0.113.7',
  userAgent: 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0',
  sessionId: 'sess-a',
  reason: null,
  ...over,
});

/** Every page of a query, checking each page's size and that the cursor ends the walk. */
async function allPages(log: AuditLog, query: Omit<AuditQuery, 'cursor'>): Promise<AuditEvent[]> {
  const seen: AuditEvent[] = [];
  let cursor: string | null = null;
  for (let pages = 0; pages < 1_000; pages++) {
    const page = await log.list({ ...query, cursor });
    seen.push(...page.events);
    if (page.nextCursor === null) return seen;
    expect(page.events).toHaveLength(query.limit);
    // Opaque to clients, but base64url-safe: the routers bound a cursor to those characters.
    expect(page.nextCursor).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
    cursor = page.nextCursor;
  }
  throw new Error('pagination did not end');
}

interface Backend {
  name: string;
  open(): Promise<{ db: Database; close(): Promise<void> }>;
}

const pgliteBackend: Backend = {
  name: 'PGlite',
  async open() {
    const dir = freshDataDir();
    const pglite = await PGlite.create(join(dir, 'pglite'));
    const db = pgliteDatabase(pglite);
    return {
      db,
      async close() {
        await db.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
};

const postgresBackend: Backend = {
  name: 'PostgreSQL',
  async open() {
    const test: TestDatabase = await createTestDatabase();
    const db = postgresDatabase(test.pool({ max: 4 }));
    return { db, close: () => test.drop() };
  },
};

describe.each([pgliteBackend, postgresBackend])('audit log on $name', (backend) => {
  let db: Database;
  let closeDb: () => Promise<void>;
  let now = Date.UTC(2025, 0, 1);
  const logs: AuditLog[] = [];
  const open = (options: Partial<SqlAuditLogOptions> = {}, on: Database = db) => {
    const log = sqlAuditLog(on, {
      clock: () => now,
      log: createLogger({ logLevel: 'silent' }),
      retentionMs: 7 * DAY,
      ...options,
    });
    logs.push(log);
    return log;
  };

  beforeAll(async () => {
    ({ db, close: closeDb } = await backend.open());
    await migrate(db);
  });
  afterAll(async () => {
    for (const log of logs) await log.close();
    await closeDb?.();
  });
  beforeEach(async () => {
    await db.query('DELETE FROM tessera_audit_events');
    now = Date.UTC(2025, 0, 1);
  });

  it('keeps every field of every event type, newest first, with a string id', async () => {
    const log = open();
    for (const [i, type] of AUDIT_EVENT_TYPES.entries()) {
      log.record(
        event({
          type,
          at: now + i,
          reason: type === 'session_ended' ? 'idle_timeout' : null,
          actor: { kind: 'admin', userId: 'boss', sessionId: 'sess-boss' },
          detail: type === 'role_changed' ? { from: 'user', to: 'admin' } : undefined,
        }),
      );
    }
    await log.flush();
    const page = await log.list({ limit: 100 });
    expect(page.nextCursor).toBeNull();
    expect(page.events.map((e) => e.type)).toEqual([...AUDIT_EVENT_TYPES].reverse());
    const roleChanged = page.events.find((e) => e.type === 'role_changed')!;
    expect(roleChanged).toEqual({
      id: expect.stringMatching(/^[1-9][0-9]*$/),
      at: now + AUDIT_EVENT_TYPES.indexOf('role_changed'),
      type: 'role_changed',
      userId: 'user-a',
      actor: { kind: 'admin', userId: 'boss', sessionId: 'sess-boss' },
      ip: '203.0.113.7',
      userAgent: 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0',
      sessionId: 'sess-a',
      reason: null,
      detail: { from: 'user', to: 'admin' },
    });
    expect(page.events.find((e) => e.type === 'session_ended')!.reason).toBe('idle_timeout');
    const ids = page.events.map((e) => BigInt(e.id));
    expect(ids).toEqual([...ids].sort((a, b) => (a > b ? -1 : a < b ? 1 : 0)));
  });

  it('an event without a time gets the clock; one with no user and a system actor is kept', async () => {
    const log = open();
    log.record(
      event({
        type: 'sign_in_failed',
        userId: null,
        actor: { kind: 'system', userId: null, sessionId: null },
        sessionId: null,
        reason: 'password',
        ip: null,
        userAgent: null,
      }),
    );
    await log.flush();
    const [stored] = (await log.list({ limit: 1 })).events;
    expect(stored).toMatchObject({ at: now, userId: null, ip: null, userAgent: null, reason: 'password' });
    expect(stored!.actor).toEqual({ kind: 'system', userId: null, sessionId: null });
    expect(stored!.detail).toEqual({});
  });

  it('pages through every filter newest first: no duplicate, no gap, the cursor ends the walk', async () => {
    const log = open();
    const types = ['sign_in', 'sign_in_failed', 'session_ended', 'mfa_enabled'] as const;
    const recorded: { user: string; type: string; at: number; n: number }[] = [];
    for (let n = 0; n < 57; n++) {
      const user = n % 3 === 0 ? 'user-b' : 'user-a';
      const type = types[n % types.length]!;
      // Pairs of events in the same millisecond (the id breaks the tie), and some written after
      // later ones (an outage, another instance): pages follow the time, then the id.
      const at = now + Math.floor(n / 2) * 1_000 + (n % 5 === 0 ? 1_500 : 0);
      log.record(event({ type, userId: user, at, detail: { n } }));
      recorded.push({ user, type, at, n });
    }
    await log.flush();
    const newestFirst = [...recorded].sort((a, b) => b.at - a.at || b.n - a.n);
    expect(newestFirst).not.toEqual([...recorded].reverse());
    const cases: {
      query: Omit<AuditQuery, 'cursor' | 'limit'>;
      keep: (r: (typeof recorded)[number]) => boolean;
    }[] = [
      { query: {}, keep: () => true },
      { query: { userId: 'user-a' }, keep: (r) => r.user === 'user-a' },
      { query: { userId: 'nobody' }, keep: () => false },
      {
        query: { types: ['sign_in_failed', 'mfa_enabled'] },
        keep: (r) => r.type === 'sign_in_failed' || r.type === 'mfa_enabled',
      },
      {
        query: { from: now + 10_000, to: now + 40_000 },
        keep: (r) => r.at >= now + 10_000 && r.at < now + 40_000,
      },
      {
        query: { userId: 'user-b', types: ['sign_in', 'session_ended'], from: now + 5_000 },
        keep: (r) =>
          r.user === 'user-b' && (r.type === 'sign_in' || r.type === 'session_ended') && r.at >= now + 5_000,
      },
    ];
    for (const { query, keep } of cases) {
      const expected = newestFirst.filter(keep).map((r) => r.n);
      for (const limit of [1, 7, 100]) {
        const got = await allPages(log, { ...query, limit });
        expect(
          got.map((e) => e.detail.n),
          `${JSON.stringify(query)} limit ${limit}`,
        ).toEqual(expected);
        expect(new Set(got.map((e) => e.id)).size).toBe(got.length);
      }
    }
    // An exact multiple of the page size: the last full page still says whether more follow.
    const all = await allPages(log, { limit: 19 });
    expect(all).toHaveLength(57);
  });

  it('refuses a cursor it did not hand out, and a limit outside 1..100', async () => {
    const log = open();
    for (const cursor of [
      'abc',
      '12',
      '-1_1',
      '1_0',
      '01_1',
      '1_01',
      '_1',
      '1_',
      '1e3_1',
      ' 1_1',
      '1_1 ',
      '1_2_3',
      '9007199254740992_1', // past Number.MAX_SAFE_INTEGER
      '1_9223372036854775808', // past bigint
      '1_1; DROP TABLE x',
      '',
    ]) {
      await expect(log.list({ limit: 10, cursor }), JSON.stringify(cursor)).rejects.toBeInstanceOf(
        InvalidAuditCursorError,
      );
    }
    log.record(event({ at: now }));
    await log.flush();
    const [stored] = (await log.list({ limit: 1 })).events;
    // The largest cursor is valid and reads from the top; one at the event itself reads past it.
    expect(
      (await log.list({ limit: 10, cursor: '9007199254740991_9223372036854775807' })).events,
    ).toHaveLength(1);
    await expect(log.list({ limit: 10, cursor: `${stored!.at}_${stored!.id}` })).resolves.toEqual({
      events: [],
      nextCursor: null,
    });
    for (const limit of [0, 101, 1.5, Number.NaN]) {
      await expect(log.list({ limit })).rejects.toBeInstanceOf(RangeError);
    }
    await expect(log.list({ limit: 10, types: ['nope' as never] })).rejects.toBeInstanceOf(RangeError);
  });

  it('drops detail keys that look like a secret, whatever their value, and says so once', async () => {
    const { logger, lines, messages } = recordingLogger();
    const log = open({ log: logger });
    const detail = {
      token: 'tok-VALUE-1',
      password: 'pw-VALUE-2',
      newPassword: 'pw-VALUE-3',
      totpSecret: 'JBSWY3DPEHPK3PXP',
      code: '123456',
      sessionCookie: 'cookie-VALUE-4',
      from: 'user',
      to: 'admin',
      revoked: 2,
      fresh: true,
      nothing: null,
      nested: { a: 1 } as never,
    };
    log.record(event({ type: 'role_changed', detail }));
    log.record(event({ type: 'role_changed', detail }));
    await log.flush();
    const stored = (await log.list({ limit: 10 })).events;
    expect(stored).toHaveLength(2);
    for (const e of stored)
      expect(e.detail).toEqual({ from: 'user', to: 'admin', revoked: 2, fresh: true, nothing: null });
    const rows = await db.query('SELECT detail::text AS d FROM tessera_audit_events');
    expect(rows.map((r) => r.d).join()).not.toMatch(/VALUE|JBSWY3DPEHPK3PXP|123456/);
    // One warning per key (not per event), naming the key and never the value.
    const warnings = messages('looks like a secret');
    expect(warnings.map((w) => w.key).sort()).toEqual(
      ['code', 'newPassword', 'password', 'sessionCookie', 'token', 'totpSecret'].sort(),
    );
    expect(JSON.stringify(lines)).not.toMatch(/VALUE|JBSWY3DPEHPK3PXP|123456/);
  });

  it('cuts long fields and never throws, whatever it is given', async () => {
    const log = open();
    log.record(event({ userAgent: 'u'.repeat(2_000), reason: 'r'.repeat(100), ip: '1'.repeat(100) }));
    log.record(event({ type: 'session_ended', reason: 'Not an identifier; DROP' }));
    expect(() => log.record(event({ type: 'made_up' as never }))).not.toThrow();
    expect(() => log.record(null as never)).not.toThrow();
    expect(() => log.record(event({ actor: null as never, detail: 'x' as never }))).not.toThrow();
    await log.flush();
    const stored = (await log.list({ limit: 10 })).events.reverse();
    expect(stored).toHaveLength(3);
    expect(stored[0]!.userAgent).toHaveLength(512);
    expect(stored[0]!.reason).toHaveLength(64);
    expect(stored[0]!.ip).toHaveLength(64);
    expect(stored[1]!.reason).toBeNull();
    expect(stored[2]!.actor.kind).toBe('system');
  });

  it('writes one multi-row INSERT per batch, by itself, soon after recording', async () => {
    const counted = counting(db);
    const log = open({ batchSize: 100, flushEveryMs: 20 }, counted.db);
    for (let n = 0; n < 250; n++) log.record(event({ detail: { n } }));
    // No flush(): the timer writes them.
    await waitFor(async () => (await log.list({ limit: 100 })).events[0]?.detail.n === 249, 5_000);
    expect(counted.count('INSERT')).toBe(3);
    expect((await allPages(log, { limit: 100 })).map((e) => e.detail.n)).toEqual(
      Array.from({ length: 250 }, (_, i) => 249 - i),
    );
  });

  it('an event recorded while a write finishes is written too, without another record or flush', async () => {
    const count = async () =>
      (await db.query('SELECT count(*)::int AS n FROM tessera_audit_events'))[0]!.n as number;
    // One event recorded at each microtask depth after the write's INSERT settles: somewhere in there
    // the writer has seen an empty queue but not yet let go, and that event must still get a timer.
    for (let depth = 0; depth < 30; depth++) {
      let armed = true;
      let log: AuditLog | null = null;
      const racing: Database = {
        ...db,
        query: <T extends Record<string, unknown>>(sql: string, params?: unknown[]) =>
          db.query<T>(sql, params).then((rows) => {
            if (armed && sql.startsWith('INSERT')) {
              armed = false;
              let hop: Promise<void> = Promise.resolve();
              for (let i = 0; i < depth; i++) hop = hop.then(() => {});
              void hop.then(() => log!.record(event({ detail: { depth } })));
            }
            return rows;
          }),
      };
      log = open({ flushEveryMs: 5 }, racing);
      const before = await count();
      log.record(event());
      await waitFor(async () => (await count()) === before + 2, 1_000, 5).catch(() => {
        throw new Error(`the event recorded ${depth} microtasks after a write settled was never written`);
      });
    }
  });

  it('a full queue drops its oldest events, counted and logged once per episode', async () => {
    const { logger, messages } = recordingLogger();
    // The timer never fires here: flush() is the only writer.
    const log = open({ log: logger, maxQueued: 5, flushEveryMs: 60_000 });
    for (let n = 0; n < 8; n++) log.record(event({ detail: { n } }));
    await log.flush();
    expect((await log.list({ limit: 10 })).events.map((e) => e.detail.n)).toEqual([7, 6, 5, 4, 3]);
    expect(messages('queue is full')).toHaveLength(1);
    expect(messages('overflowed').map((l) => l.dropped)).toEqual([3]);
  });

  it('prunes only what is older than the retention, in bounded chunks', async () => {
    const counted = counting(db);
    const log = open({ retentionMs: 7 * DAY, pruneChunk: 4 }, counted.db);
    for (let n = 0; n < 15; n++) log.record(event({ at: now - 10 * DAY + n, detail: { n, old: true } }));
    log.record(event({ at: now - 7 * DAY, detail: { n: 100 } })); // exactly the retention: kept
    for (let n = 0; n < 5; n++) log.record(event({ at: now - DAY + n, detail: { n } }));
    await log.flush();
    expect(await log.prune(now)).toBe(15);
    // 4 + 4 + 4 + 3: each DELETE holds its locks for at most 4 rows.
    expect(counted.count('DELETE')).toBe(4);
    const left = await allPages(log, { limit: 100 });
    expect(left).toHaveLength(6);
    expect(left.some((e) => e.detail.old)).toBe(false);
    expect(await log.prune(now)).toBe(0);
  });
});

describe('PGlite closed: the action wins', () => {
  it('record() neither throws nor waits; list() and flush() say unavailable; close() gives up cleanly', async () => {
    const dir = freshDataDir();
    const pglite = await PGlite.create(join(dir, 'pglite'));
    const db = pgliteDatabase(pglite);
    await migrate(db);
    const { logger, messages } = recordingLogger();
    const log = sqlAuditLog(db, { clock: Date.now, log: logger, retentionMs: DAY, flushEveryMs: 5 });
    try {
      await pglite.close();
      const start = performance.now();
      for (let n = 0; n < 1_000; n++) log.record(event({ detail: { n } }));
      expect(performance.now() - start).toBeLessThan(200);
      await expect(log.flush()).rejects.toBeInstanceOf(UnavailableError);
      await expect(log.list({ limit: 10 })).rejects.toBeInstanceOf(UnavailableError);
      await log.close();
      expect(messages('lost').map((l) => l.lost)).toEqual([1_000]);
      expect(messages('cannot be written')).toHaveLength(1);
    } finally {
      await log.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('PostgreSQL down and back', () => {
  let server: PrivatePostgres;
  let pool: pg.Pool;
  beforeAll(async () => {
    server = await startPrivatePostgres();
    pool = new pg.Pool({ connectionString: server.url, max: 2, connectionTimeoutMillis: 1_000 });
    pool.on('error', () => {});
  }, 60_000);
  afterAll(async () => {
    await pool?.end().catch(() => {});
    await server?.stop();
  });

  it('events recorded during the outage are written once it is back; record() never blocks', async () => {
    const db = postgresDatabase(pool);
    await migrate(db);
    const { logger, messages } = recordingLogger();
    const log = sqlAuditLog(db, {
      clock: Date.now,
      log: logger,
      retentionMs: DAY,
      flushEveryMs: 10,
      maxRetryDelayMs: 200,
    });
    try {
      log.record(event({ detail: { n: 0 } }));
      await log.flush();
      await server.kill();

      const start = performance.now();
      for (let n = 1; n <= 30; n++)
        log.record(event({ type: 'session_ended', reason: 'logged_out', detail: { n } }));
      expect(performance.now() - start).toBeLessThan(50);
      await expect(log.list({ limit: 10 })).rejects.toBeInstanceOf(UnavailableError);
      // Let a few retries fail.
      await waitFor(async () => messages('cannot be written').length > 0, 10_000);
      await new Promise((r) => setTimeout(r, 600));

      await server.start();
      await waitFor(async () => (await log.list({ limit: 100 })).events.length === 31, 20_000, 100);
      const events = (await log.list({ limit: 100 })).events;
      expect(events.map((e) => e.detail.n)).toEqual(Array.from({ length: 31 }, (_, i) => 30 - i));
      // One warning for the whole outage (not one per retry), and one line when it is over.
      expect(messages('cannot be written')).toHaveLength(1);
      expect(messages('written again')).toHaveLength(1);
    } finally {
      await log.close();
    }
  }, 60_000);
});
