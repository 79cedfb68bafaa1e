/**
 * Bounded tRPC batches (issue 9, defect 3): a batch holds at most MAX_BATCH_CALLS calls; one more is
 * a 413 in tRPC's error shape, refused at the edge before context creation (no session lookup, no
 * procedure); the per-IP request limit counts procedure calls, not HTTP requests; the router refuses
 * a path parameter longer than the bounded batch of the longest procedure path needs; and the SPA's
 * batch link never builds a batch the server refuses. TRUST_PROXY=loopback: each test speaks from
 * its own X-Forwarded-For address.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_BATCH_CALLS } from '../../src/http/batch-limit.js';
import { PASSWORD, startApp, type TestApp, uniqueEmail } from '../helpers/app.js';
import { procedures } from './procedures.js';

const LIMIT = 25;
let app: TestApp;
beforeAll(async () => {
  app = await startApp({
    env: { TRUST_PROXY: 'loopback', RATE_LIMIT_REQUESTS_PER_MINUTE: String(LIMIT) },
  });
});
afterAll(async () => {
  await app?.stop();
});

let n = 1;
const newIp = () => `198.51.100.${n++}`;

/** Counts session lookups (what context creation does for a request with a cookie) while `run` runs. */
async function sessionLookups(run: () => Promise<void>): Promise<number> {
  const sessions = app.runtime.deps.sessions;
  const original = sessions.validate;
  let calls = 0;
  sessions.validate = (...args) => {
    calls++;
    return original(...args);
  };
  try {
    await run();
  } finally {
    sessions.validate = original;
  }
  return calls;
}

const batchOf = (path: string, calls: number) =>
  `/trpc/${Array(calls).fill(path).join(',')}?batch=1&input=${encodeURIComponent('{}')}`;

describe('batch size', () => {
  it(`is ${MAX_BATCH_CALLS} at most (the SPA batches a handful)`, () => {
    expect(MAX_BATCH_CALLS).toBeGreaterThanOrEqual(4);
    expect(MAX_BATCH_CALLS).toBeLessThanOrEqual(16);
  });

  it('a full batch is answered, one session lookup for all its calls', async () => {
    const email = uniqueEmail();
    await app.createUser(email);
    const c = app.client({ 'x-forwarded-for': newIp() });
    expect((await c.mutation('auth.login', { email, password: PASSWORD })).status).toBe(200);
    let res: Response | undefined;
    const lookups = await sessionLookups(async () => {
      res = await c.fetch(batchOf('auth.me', MAX_BATCH_CALLS));
    });
    expect(res?.status).toBe(200);
    expect(await res?.json()).toHaveLength(MAX_BATCH_CALLS);
    expect(lookups).toBe(1);
  });

  it('one call more is a 413 in tRPC error shape, refused before context creation', async () => {
    const email = uniqueEmail();
    await app.createUser(email);
    const c = app.client({ 'x-forwarded-for': newIp() });
    expect((await c.mutation('auth.login', { email, password: PASSWORD })).status).toBe(200);
    let res: Response | undefined;
    const lookups = await sessionLookups(async () => {
      res = await c.fetch(batchOf('auth.me', MAX_BATCH_CALLS + 1));
    });
    expect(res?.status).toBe(413);
    const body = (await res?.json()) as { error: { code: number; data: Record<string, unknown> } };
    expect(body.error.code).toBe(-32013);
    expect(body.error.data).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', httpStatus: 413 });
    expect(res?.headers.get('cache-control')).toBe('no-store');
    expect(res?.headers.getSetCookie()).toEqual([]);
    expect(lookups, 'no session lookup: context was never created').toBe(0);
  });

  it('the bound holds for mutation batches (POST) too, before any procedure runs', async () => {
    const email = uniqueEmail();
    await app.createUser(email);
    const c = app.client({ 'x-forwarded-for': newIp() });
    const body = JSON.stringify(
      Object.fromEntries(
        Array.from({ length: MAX_BATCH_CALLS + 1 }, (_, i) => [i, { email, password: 'wrong wrong' }]),
      ),
    );
    const res = await c.fetch(
      `/trpc/${Array(MAX_BATCH_CALLS + 1)
        .fill('auth.login')
        .join(',')}?batch=1`,
      {
        method: 'POST',
        headers: { origin: 'http://tessera.test', 'content-type': 'application/json' },
        body,
      },
    );
    expect(res.status).toBe(413);
    // No attempt was counted against the account: the right password still signs in.
    expect((await c.mutation('auth.login', { email, password: PASSWORD })).status).toBe(200);
  });

  it('a path longer than the bounded batch of the longest procedure needs is refused by the router', async () => {
    const longest = procedures()
      .map((p) => p.path)
      .sort((a, b) => b.length - a.length)[0]!;
    const full = Array(MAX_BATCH_CALLS).fill(longest).join(',');
    // The full batch of the longest path is routed (tRPC answers; a mutation over GET is a 405)...
    const routed = await app.client({ 'x-forwarded-for': newIp() }).fetch(`/trpc/${full}?batch=1`);
    expect(routed.status).not.toBe(404);
    // ...one character more is not: the same 413 as too many calls, before any context.
    const tooLong = await app.client({ 'x-forwarded-for': newIp() }).fetch(`/trpc/${full}x?batch=1`);
    expect(tooLong.status).toBe(413);
    const huge = await app
      .client({ 'x-forwarded-for': newIp() })
      .fetch(`/trpc/${Array(200).fill('health.check').join(',')}?batch=1`, {
        headers: { accept: 'text/html' },
      });
    expect(huge.status).toBe(413);
    expect(((await huge.json()) as { error: { data: { code: string } } }).error.data.code).toBe(
      'PAYLOAD_TOO_LARGE',
    );
  });
});

describe('the per-IP request limit counts calls, not HTTP requests', () => {
  it(`${LIMIT} calls per minute, however they are batched, then 429`, async () => {
    const c = app.client({ 'x-forwarded-for': newIp() });
    const statuses: number[] = [];
    let calls = 0;
    while (calls < LIMIT) {
      const size = Math.min(MAX_BATCH_CALLS, LIMIT - calls);
      statuses.push((await c.fetch(batchOf('health.check', size))).status);
      calls += size;
    }
    expect(statuses.every((s) => s === 200)).toBe(true);
    const over = await c.query('health.check');
    expect(over.status).toBe(429);
    expect(over.error?.data.code).toBe('TOO_MANY_REQUESTS');
    // Another address is unaffected.
    expect((await app.client({ 'x-forwarded-for': newIp() }).query('health.check')).status).toBe(200);
  });

  it('a batch that would cross the limit is refused whole', async () => {
    const c = app.client({ 'x-forwarded-for': newIp() });
    for (let i = 0; i < LIMIT - 3; i++) expect((await c.query('health.check')).status).toBe(200);
    const res = await c.fetch(batchOf('health.check', 4));
    expect(res.status).toBe(429);
  });
});

describe('the SPA', () => {
  it(`batches at most ${MAX_BATCH_CALLS} calls (httpBatchLink maxItems)`, () => {
    const source = readFileSync(new URL('../../../web/src/lib/trpc.ts', import.meta.url), 'utf8');
    const maxItems = /maxItems:\s*(\w+)/.exec(source)?.[1];
    expect(maxItems, 'httpBatchLink sets maxItems').toBeDefined();
    const value = /^\d+$/.test(maxItems!)
      ? Number(maxItems)
      : Number(new RegExp(`const ${maxItems}\\s*=\\s*(\\d+)`).exec(source)?.[1]);
    expect(value).toBeGreaterThan(0);
    expect(value).toBeLessThanOrEqual(MAX_BATCH_CALLS);
  });
});
