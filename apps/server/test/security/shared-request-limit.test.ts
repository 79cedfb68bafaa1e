/**
 * The per-IP request limit shared by every instance on one Redis (issue 9, "close the classes": N
 * instances must not mean N x the limit), without a Redis call per request: each instance decides
 * from memory and syncs busy addresses' counts once a second.
 *  - the limiter against an in-process shared counter: two instances share one budget after a sync;
 *    an address below `syncFrom` never costs a sync; a failing sync leaves the per-instance count;
 *  - two server instances on one private Redis: an address spread over both gets the limit (plus at
 *    most what one instance admitted since its last sync), not twice the limit; the timer syncs by
 *    itself; another address is unaffected.
 */
import { startRedis, type TestRedis } from '@tessera/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryRequestLimiter, type RequestCountSync } from '../../src/limits/request-limit.js';
import { sleep, startApp, type TestApp } from '../helpers/app.js';

/** What Redis does for the sync (shared-request-limit.ts), in memory, on a fake clock. */
function fakeShared(clock: () => number) {
  const counters = new Map<string, { total: number; endsAt: number }>();
  let adds = 0;
  let failing = false;
  const sync: RequestCountSync = {
    async add(key, calls, windowLeftMs) {
      adds++;
      if (failing) throw new Error('redis: connection refused');
      let c = counters.get(key);
      if (c === undefined || c.endsAt <= clock()) {
        c = { total: 0, endsAt: clock() + windowLeftMs };
        counters.set(key, c);
      }
      c.total += calls;
      return { total: c.total, leftMs: c.endsAt - clock() };
    },
  };
  return {
    sync,
    get adds() {
      return adds;
    },
    fail(on: boolean) {
      failing = on;
    },
  };
}

describe('memoryRequestLimiter with a sync', () => {
  const limiters = (max: number, now: () => number, shared = fakeShared(now)) => {
    const make = () => memoryRequestLimiter({ max, windowMs: 60_000, sync: shared.sync, clock: now });
    return { a: make(), b: make(), shared };
  };

  it('two instances share one budget once they have synced', async () => {
    let t = 1_000;
    const { a, b } = limiters(10, () => t);
    for (let i = 0; i < 6; i++) expect(a.hit('x', t).allowed).toBe(true);
    await a.flush();
    t += 1_000;
    for (let i = 0; i < 4; i++) expect(b.hit('x', t).allowed).toBe(true);
    await b.flush(); // b learns of a's 6
    expect(b.hit('x', t)).toMatchObject({ allowed: false });
    // a is one sync behind: what it admits before its next sync is the bound's slack.
    expect(a.hit('x', t).allowed).toBe(true);
    await a.flush();
    expect(a.hit('x', t).allowed).toBe(false);
    // Another address has its own budget.
    expect(a.hit('y', t).allowed).toBe(true);
    for (const l of [a, b]) l.close();
  });

  it('every instance ends the window when the shared counter does', async () => {
    let t = 1_000;
    const { a, b } = limiters(4, () => t);
    for (let i = 0; i < 3; i++) a.hit('x', t);
    await a.flush(); // the shared window ends at 61,000
    t = 31_000;
    b.hit('x', t);
    b.hit('x', t);
    await b.flush();
    expect(b.hit('x', t)).toEqual({ allowed: false, retryAfterMs: 30_000 });
    t = 61_000;
    expect(b.hit('x', t)).toEqual({ allowed: true, retryAfterMs: 60_000 });
    for (const l of [a, b]) l.close();
  });

  it('an address below syncFrom costs no sync; the rest are synced once per flush, not per call', async () => {
    const t = 1_000;
    const { a, shared } = limiters(100, () => t);
    for (let i = 0; i < 4; i++) a.hit(`quiet-${i}`, t); // syncFrom is 5% of 100: 5 calls
    await a.flush();
    expect(shared.adds).toBe(0);
    for (let i = 0; i < 50; i++) a.hit('busy', t);
    await a.flush();
    expect(shared.adds).toBe(1);
    await a.flush(); // nothing new
    expect(shared.adds).toBe(1);
    a.close();
  });

  it('a batch costs its calls', () => {
    const l = memoryRequestLimiter({ max: 10, windowMs: 60_000 });
    expect(l.hit('x', 0, 8).allowed).toBe(true);
    expect(l.hit('x', 0, 2).allowed).toBe(true);
    expect(l.hit('x', 0, 1).allowed).toBe(false);
  });

  it('when the sync fails, each instance still stops at the limit, and the failure is reported once', async () => {
    const t = 1_000;
    const shared = fakeShared(() => t);
    const errors: unknown[] = [];
    const a = memoryRequestLimiter({
      max: 5,
      windowMs: 60_000,
      sync: shared.sync,
      clock: () => t,
      onSyncError: (e) => errors.push(e),
    });
    shared.fail(true);
    const allowed: boolean[] = [];
    for (let i = 0; i < 7; i++) {
      allowed.push(a.hit('x', t).allowed);
      await a.flush();
    }
    expect(allowed).toEqual([true, true, true, true, true, false, false]);
    expect(errors).toHaveLength(1);
    shared.fail(false);
    await a.flush(); // the calls it could not sync are synced now
    expect(shared.adds).toBeGreaterThan(1);
    a.close();
  });
});

describe('two server instances on one Redis', () => {
  const LIMIT = 40;
  let redis: TestRedis;
  let one: TestApp;
  let two: TestApp;
  beforeAll(async () => {
    redis = await startRedis();
    const options = {
      redisUrl: redis.url,
      compose: { redisPrefix: 'shared:' },
      env: { TRUST_PROXY: 'loopback', RATE_LIMIT_REQUESTS_PER_MINUTE: String(LIMIT) },
    };
    [one, two] = await Promise.all([startApp(options), startApp(options)]);
  });
  afterAll(async () => {
    await Promise.all([one?.stop(), two?.stop()]);
    await redis?.stop();
  });

  const call = async (app: TestApp, ip: string) =>
    (await app.client({ 'x-forwarded-for': ip }).query('health.check')).status;
  const calls = async (app: TestApp, ip: string, n: number) => {
    const statuses: number[] = [];
    for (let i = 0; i < n; i++) statuses.push(await call(app, ip));
    return statuses;
  };
  const flush = (app: TestApp) => app.runtime.deps.requestLimit.flush();

  it('an address spread over both instances gets the limit once, not once per instance', async () => {
    const ip = '203.0.113.10';
    expect(await calls(one, ip, 30)).toEqual(Array(30).fill(200));
    await flush(one);
    expect(await calls(two, ip, 10)).toEqual(Array(10).fill(200));
    await flush(two);
    // Per instance, `two` would allow 30 more; shared, the address has used its 40.
    expect(await call(two, ip)).toBe(429);
    // `one` has not synced since: at most what it admits until its next sync gets through.
    const slack = await call(one, ip);
    await flush(one);
    expect(await call(one, ip)).toBe(429);
    expect(await call(two, ip)).toBe(429);
    const admitted = 40 + (slack === 200 ? 1 : 0);
    expect(admitted).toBeLessThanOrEqual(LIMIT + 1);
    // Another address is unaffected.
    expect(await call(two, '203.0.113.11')).toBe(200);
  });

  it('the instances sync by themselves, about once a second', async () => {
    const ip = '203.0.113.20';
    expect(await calls(one, ip, 25)).toEqual(Array(25).fill(200));
    await sleep(1_500);
    expect(await calls(two, ip, 15)).toEqual(Array(15).fill(200));
    await sleep(1_500);
    expect(await call(two, ip)).toBe(429);
    const res = await two.client({ 'x-forwarded-for': ip }).query('health.check');
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(Number(res.headers.get('retry-after'))).toBeLessThanOrEqual(60);
  });
});
