/**
 * Token entropy and format, black-box: 2,000 real logins over HTTP (plus 200 rotations), as an
 * attacker collecting cookies would see them. Every token is `<26>.<43>` base64url, canonical, and
 * distinct; the secret decodes to 32 bytes (256 bits) and the id to 3 tag bytes + 16 random bytes; the
 * random bytes pass frequency tests (per byte value, per bit position) with wide bounds (failure odds
 * below 1e-4 each for a real CSPRNG, so the test doesn't flake); no secret repeats any 8-character
 * window of another; the tag is the same for one user and says nothing else.
 */
import { startRedis, type TestRedis } from '@tessera/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD, startApp, type TestApp, uniqueEmail } from '../helpers/app.js';

const LOGINS = 2_000;
const USERS = 100;
const ROTATIONS = 200;
const PARALLEL = 16;

let redis: TestRedis;
let app: TestApp;
const tokens: { token: string; user: number }[] = [];
const rotated: string[] = [];

/** Runs `work(i)` for i in [0, n) with at most `width` at a time. */
async function pool(n: number, width: number, work: (i: number) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < n) await work(next++);
    }),
  );
}

beforeAll(async () => {
  redis = await startRedis();
  app = await startApp({ redisUrl: redis.url, env: { SESSION_MAX_PER_USER: '1000' } });
  const emails = Array.from({ length: USERS }, () => uniqueEmail('entropy'));
  await pool(USERS, 8, async (i) => {
    await app.createUser(emails[i]!);
  });
  const started = Date.now();
  await pool(LOGINS, PARALLEL, async (i) => {
    const c = app.client();
    const r = await c.mutation('auth.login', { email: emails[i % USERS], password: PASSWORD });
    expect(r.status).toBe(200);
    tokens.push({ token: c.sessionToken!, user: i % USERS });
    if (i < ROTATIONS) {
      const again = await c.mutation('auth.reauthenticate', { password: PASSWORD });
      expect(again.status).toBe(200);
      rotated.push(c.sessionToken!);
    }
  });
  console.log(`${LOGINS} logins + ${ROTATIONS} rotations in ${Date.now() - started} ms`);
}, 180_000);
afterAll(async () => {
  await app?.stop();
  await redis?.stop();
});

const FORMAT = /^[A-Za-z0-9_-]{26}\.[A-Za-z0-9_-]{43}$/;
const all = () => [...tokens.map((t) => t.token), ...rotated];
const secretBytes = (token: string) => Buffer.from(token.slice(27), 'base64url');
const idBytes = (token: string) => Buffer.from(token.slice(0, 26), 'base64url');

/** Chi-square statistic of observed counts against a uniform expectation. */
function chiSquare(counts: number[]): number {
  const total = counts.reduce((a, b) => a + b, 0);
  const expected = total / counts.length;
  return counts.reduce((sum, c) => sum + (c - expected) ** 2 / expected, 0);
}

/** Bounds for a chi-square with `df` degrees of freedom: mean df, sd sqrt(2 df); +-4.5 sd. */
function expectChiSquareSane(value: number, df: number, label: string) {
  const sd = Math.sqrt(2 * df);
  expect(value, `${label}: chi-square ${value.toFixed(1)} (df ${df})`).toBeGreaterThan(df - 4.5 * sd);
  expect(value, `${label}: chi-square ${value.toFixed(1)} (df ${df})`).toBeLessThan(df + 4.5 * sd);
}

describe(`${LOGINS} logins and ${ROTATIONS} rotations over HTTP`, () => {
  it('every token has the documented format: 26 + 1 + 43 base64url characters, canonical encoding', () => {
    expect(tokens).toHaveLength(LOGINS);
    expect(rotated).toHaveLength(ROTATIONS);
    for (const token of all()) {
      expect(token).toMatch(FORMAT);
      // Canonical base64url: decoding and re-encoding gives the same text (no ignored trailing bits).
      expect(secretBytes(token).toString('base64url')).toBe(token.slice(27));
      expect(idBytes(token).toString('base64url')).toBe(token.slice(0, 26));
      expect(secretBytes(token)).toHaveLength(32); // 256 bits
      expect(idBytes(token)).toHaveLength(19); // 3 tag bytes + 16 random bytes (128 bits)
    }
  });

  it('all tokens, secrets and session ids are distinct; a rotation keeps the id, not the secret', () => {
    const list = all();
    expect(new Set(list).size).toBe(list.length);
    expect(new Set(list.map((t) => t.slice(27))).size).toBe(list.length);
    expect(new Set(tokens.map((t) => t.token.slice(0, 26))).size).toBe(LOGINS);
    const ids = new Set(tokens.map((t) => t.token.slice(0, 26)));
    for (const r of rotated) expect(ids.has(r.slice(0, 26))).toBe(true);
  });

  it('no secret shares an 8-character window with another (no structure, no counter)', () => {
    const seen = new Map<string, number>();
    const list = all();
    list.forEach((token, i) => {
      const secret = token.slice(27);
      for (let j = 0; j + 8 <= 42; j += 4) {
        const key = `${j}:${secret.slice(j, j + 8)}`;
        const before = seen.get(key);
        expect(before === undefined || before === i, `window ${key} repeats`).toBe(true);
        seen.set(key, i);
      }
    });
  });

  it('secret bytes: uniform over 256 values and unbiased in every one of the 256 bit positions', () => {
    const secrets = all().map(secretBytes);
    const byValue = new Array<number>(256).fill(0);
    const ones = new Array<number>(256).fill(0);
    for (const bytes of secrets) {
      bytes.forEach((byte, i) => {
        byValue[byte]!++;
        for (let bit = 0; bit < 8; bit++) if (byte & (1 << bit)) ones[i * 8 + bit]!++;
      });
    }
    expectChiSquareSane(chiSquare(byValue), 255, 'byte values');
    console.log(
      `secret bytes (${secrets.length * 32}): chi-square ${chiSquare(byValue).toFixed(1)} (df 255)`,
    );
    // Each bit position is a fair coin over n tokens: |z| < 5 for all 256 positions.
    const n = secrets.length;
    const worst = Math.max(...ones.map((k) => Math.abs(k - n / 2) / Math.sqrt(n / 4)));
    expect(worst, `worst bit-position z-score ${worst.toFixed(2)}`).toBeLessThan(5);
    console.log(`secret bits: worst of 256 bit positions |z| = ${worst.toFixed(2)}`);
  });

  it('secret characters: the first 42 of 43 are uniform over the 64 base64url symbols', () => {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const counts = new Array<number>(64).fill(0);
    for (const token of all()) for (const ch of token.slice(27, 69)) counts[alphabet.indexOf(ch)]!++;
    expectChiSquareSane(chiSquare(counts), 63, 'secret characters');
    console.log(`secret characters: chi-square ${chiSquare(counts).toFixed(1)} (df 63)`);
  });

  it('the random part of the session id (128 bits) is uniform too', () => {
    const counts = new Array<number>(256).fill(0);
    for (const { token } of tokens) for (const byte of idBytes(token).subarray(3)) counts[byte]!++;
    expectChiSquareSane(chiSquare(counts), 255, 'session id bytes');
    console.log(`session id random bytes: chi-square ${chiSquare(counts).toFixed(1)} (df 255)`);
  });

  it('the 4-character tag is a function of the user: the same for one user, and nothing else', () => {
    const tagOf = new Map<number, string>();
    for (const { token, user } of tokens) {
      const tag = token.slice(0, 4);
      expect(tagOf.get(user) ?? tag).toBe(tag);
      tagOf.set(user, tag);
    }
    expect(new Set(tagOf.values()).size).toBeGreaterThan(USERS * 0.95); // 24 bits: collisions are rare
  });
});
