import { DbscBrowser } from '@tessera/session-core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { EnvError, parseEnv } from '../src/env.js';
import { prometheusMetrics } from '../src/metrics/prometheus.js';
import { PASSWORD, startApp, type TestApp, uniqueEmail } from './helpers/app.js';
import { DBSC_ORIGIN, dbscSuite } from './helpers/dbsc-suite.js';

// Users and sessions in an embedded PGlite database of the suite's own.
dbscSuite('embedded PGlite', { options: async () => ({}) });

describe('DBSC, DBSC_BOUND_COOKIE_TTL, DBSC_CHALLENGE_TTL', () => {
  const problems = (env: Record<string, string>) => {
    try {
      parseEnv(env);
    } catch (error) {
      if (error instanceof EnvError) return error.problems;
      throw error;
    }
    return [];
  };

  it('auto (the default): on wherever browsers bind, https or http on localhost, whatever COOKIE_SECURE', () => {
    const on = { boundCookieTtlMs: 600_000, challengeTtlMs: 900_000 };
    expect(parseEnv({}).deviceBinding).toEqual(on); // http://localhost:3000, `pnpm start`
    expect(parseEnv({ APP_ORIGIN: 'https://app.example' }).deviceBinding).toEqual(on);
    expect(parseEnv({ APP_ORIGIN: 'http://app.localhost:8080' }).deviceBinding).toEqual(on);
    expect(parseEnv({ APP_ORIGIN: 'http://localhost:5173', COOKIE_SECURE: 'false' }).deviceBinding).toEqual(
      on,
    );
    expect(parseEnv({ APP_ORIGIN: 'http://app.example' }).deviceBinding).toBeNull();
    expect(parseEnv({ APP_ORIGIN: 'http://127.0.0.1:3000' }).deviceBinding).toEqual(on);
    expect(parseEnv({ APP_ORIGIN: 'http://[::1]:3000' }).deviceBinding).toEqual(on);
    expect(parseEnv({ APP_ORIGIN: 'http://10.0.0.5:3000' }).deviceBinding).toBeNull();
    expect(parseEnv({ DBSC: 'off' }).deviceBinding).toBeNull();
    expect(parseEnv({ DBSC: 'on', APP_ORIGIN: 'https://app.example' }).deviceBinding).toEqual(on);
  });

  it('reads the lifetimes', () => {
    expect(
      parseEnv({ APP_ORIGIN: 'https://app.example', DBSC_BOUND_COOKIE_TTL: '5m', DBSC_CHALLENGE_TTL: '6m' })
        .deviceBinding,
    ).toEqual({ boundCookieTtlMs: 300_000, challengeTtlMs: 360_000 });
  });

  it('refuses what could not work, saying why', () => {
    expect(problems({ DBSC: 'on', APP_ORIGIN: 'http://app.example' })).toEqual([
      "DBSC: 'on' needs APP_ORIGIN to be https:// (or http:// on localhost): browsers bind sessions only there, got 'http://app.example'",
    ]);
    expect(problems({ DBSC: 'yes' })).toEqual([expect.stringMatching(/^DBSC: /)]);
    // Chrome's quota: 6 signatures per 9 minutes.
    expect(problems({ DBSC_BOUND_COOKIE_TTL: '1m' })).toEqual([
      expect.stringMatching(/^DBSC_BOUND_COOKIE_TTL: must be at least 120000 ms/),
    ]);
    expect(problems({ DBSC_CHALLENGE_TTL: '10m' })).toEqual([
      'DBSC_CHALLENGE_TTL: must be longer than DBSC_BOUND_COOKIE_TTL',
    ]);
    // Checked with DBSC off too: turning it on later must not reveal a broken setting.
    expect(problems({ DBSC: 'off', DBSC_CHALLENGE_TTL: 'soon' })).toEqual([
      expect.stringMatching(/^DBSC_CHALLENGE_TTL: 'soon' is not a duration/),
    ]);
  });
});

describe('the DBSC endpoints: request limit and metrics', () => {
  let app: TestApp | undefined;
  afterEach(async () => {
    await app?.stop();
    app = undefined;
  });

  const browser = (a: TestApp) =>
    new DbscBrowser({
      fetch: (url, init) => fetch(url, init),
      origin: a.url,
      headers: { 'sec-fetch-site': 'same-origin' },
    });
  const signIn = async (a: TestApp, b: DbscBrowser) => {
    const email = uniqueEmail('dbsc');
    await a.createUser(email);
    const res = await b.request('/trpc/auth.login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: PASSWORD }),
    });
    expect(res.status).toBe(200);
  };

  it('count against RATE_LIMIT_REQUESTS_PER_MINUTE: 429 with Retry-After', async () => {
    app = await startApp({
      env: { APP_ORIGIN: DBSC_ORIGIN, DBSC: 'on', RATE_LIMIT_REQUESTS_PER_MINUTE: '4' },
    });
    const statuses: number[] = [];
    let limited: Response | undefined;
    for (let i = 0; i < 6; i++) {
      const res = await fetch(`${app.url}/dbsc/refresh`, {
        method: 'POST',
        headers: { 'sec-secure-session-id': 'A'.repeat(26) },
      });
      statuses.push(res.status);
      if (res.status === 429) limited = res;
    }
    expect(statuses).toEqual([200, 200, 200, 200, 429, 429]);
    expect(limited?.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);
    expect(limited?.headers.get('cache-control')).toBe('no-store');
    expect(await limited?.json()).toEqual({ error: 'rate_limited' });
  });

  it('are counted (tessera_dbsc_total), and so are device_unbound refusals (tessera_dbsc_unbound_total)', async () => {
    const prometheus = prometheusMetrics();
    let skipped = 0;
    app = await startApp({
      env: { APP_ORIGIN: DBSC_ORIGIN, DBSC: 'on' },
      compose: { metrics: prometheus.metrics, clock: () => Date.now() + skipped },
    });
    const b = browser(app);
    await signIn(app, b);
    const [id] = [...b.sessions.keys()];
    expect(await b.refresh(id!)).toBe(200); // 403, then 200
    const thief = b.steal();
    thief.cookies.delete('__Host-tessera-bound');
    skipped += 10_000; // past the registration grace
    expect((await thief.request('/trpc/auth.me')).status).toBe(401);
    const text = await prometheus.registry.metrics();
    const count = (series: string) => {
      const line = text.split('\n').find((l) => l.startsWith(`${series} `));
      return line === undefined ? null : Number(line.split(' ')[1]);
    };
    expect(count('tessera_dbsc_total{endpoint="register",outcome="bound",reason="none"}')).toBe(1);
    expect(count('tessera_dbsc_total{endpoint="refresh",outcome="challenged",reason="none"}')).toBe(1);
    expect(count('tessera_dbsc_total{endpoint="refresh",outcome="refreshed",reason="none"}')).toBe(1);
    expect(count('tessera_dbsc_unbound_total')).toBe(1);
  });
});
