/**
 * User enumeration through auth.login, black-box, with the PRODUCTION argon2 parameters (so the
 * password check costs what it costs in production and timing is meaningful): a known email with a
 * wrong password, an unknown email, a known email in another case, a user with MFA on, and a string
 * that isn't an email at all get the same status, body and headers. Timing: the medians of known and
 * unknown emails (interleaved, on a shared machine) stay within a tolerance; a power check shows the
 * tolerance is far smaller than what skipping the password hash for unknown emails would save.
 * (The per-account rate limit treats unknown emails alike: test/rate-limit.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { totpCode } from '../../src/auth/totp.js';
import { OWASP_ARGON2 } from '../../src/users/passwords.js';
import { startApp, type TestApp, uniqueEmail } from '../helpers/app.js';
import type { CallResult } from '../helpers/http.js';

const SAMPLES = Number(process.env.ENUMERATION_SAMPLES ?? 31);

let app: TestApp;
let known: string;
let withMfa: string;
beforeAll(async () => {
  app = await startApp({ compose: { argon2: OWASP_ARGON2 } });
  known = uniqueEmail('known');
  withMfa = uniqueEmail('mfa');
  await app.createUser(known);
  const c = await app.signedIn(withMfa);
  const { secret } = (await c.mutation('mfa.beginEnrollment')).data;
  expect(
    (await c.mutation('mfa.confirmEnrollment', { code: totpCode(secret, Date.now() - 30_000) })).status,
  ).toBe(200);
}, 60_000);
afterAll(async () => {
  await app?.stop();
});

const WRONG = 'certainly not the password';
const login = (email: string, password = WRONG) => app.client().mutation('auth.login', { email, password });

/**
 * What a response tells an observer, minus what varies by nature: the date, and the per-IP request
 * counter (it counts every request from the address, whatever the email).
 */
const VARYING = [
  'date',
  'keep-alive',
  'connection',
  'content-length',
  'x-ratelimit-remaining',
  'x-ratelimit-reset',
];
const visible = (r: CallResult) => ({
  status: r.status,
  body: JSON.stringify({ error: r.error }),
  headers: [...r.headers.keys()].sort(),
  headerValues: [...r.headers.entries()].filter(([k]) => !VARYING.includes(k)),
  setCookies: r.setCookies,
});

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

async function timed(call: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await call();
  return performance.now() - start;
}

describe('auth.login tells nothing about which emails have accounts', () => {
  it('status, body and headers are identical for known, unknown, re-cased, MFA and non-email input', async () => {
    const reference = visible(await login(known));
    expect(reference.status).toBe(401);
    expect(reference.setCookies).toEqual([]);
    for (const email of [uniqueEmail('nobody'), known.toUpperCase(), withMfa, 'not an email at all']) {
      const r = visible(await login(email));
      expect(r, email).toEqual(reference);
    }
  });

  it(`timing: median of known vs unknown emails within tolerance (${SAMPLES} interleaved samples each)`, async () => {
    // Warm both paths (the dummy hash is made at start; the first verifications warm the thread pool).
    await login(known);
    await login(uniqueEmail('warm'));
    // On a shared machine a burst of load can skew one round: up to 3 rounds, and one within the
    // tolerance passes. A real leak (no hash for unknown emails) shifts every round by ~the hash cost.
    const rounds: { k: number; u: number; base: number; hashCost: number; tolerance: number }[] = [];
    const show = (r: (typeof rounds)[number]) =>
      `login medians: known ${r.k.toFixed(1)} ms, unknown ${r.u.toFixed(1)} ms, difference ` +
      `${(r.u - r.k).toFixed(1)} ms (tolerance ${r.tolerance.toFixed(1)} ms); the password hash costs ` +
      `~${r.hashCost.toFixed(1)} ms (a request without one: ${r.base.toFixed(1)} ms)`;
    const passes = (r: (typeof rounds)[number]) =>
      r.hashCost > 2 * r.tolerance && Math.abs(r.u - r.k) < r.tolerance;
    for (let round = 0; round < 3; round++) {
      const knownMs: number[] = [];
      const unknownMs: number[] = [];
      const noHashMs: number[] = [];
      for (let i = 0; i < SAMPLES; i++) {
        knownMs.push(await timed(() => login(known)));
        unknownMs.push(await timed(() => login(uniqueEmail('nobody'))));
        noHashMs.push(await timed(() => app.client().query('auth.me')));
      }
      const [k, u, base] = [median(knownMs), median(unknownMs), median(noHashMs)];
      const hashCost = k - base;
      // Power: skipping the hash for unknown emails would move their median by ~hashCost, at least
      // twice the tolerance.
      rounds.push({ k, u, base, hashCost, tolerance: Math.max(0.4 * hashCost, 4) });
      if (passes(rounds.at(-1)!)) break;
    }
    console.log(rounds.map(show).join('\n'));
    expect(passes(rounds.at(-1)!), rounds.map(show).join('\n')).toBe(true);
  }, 120_000);
});
