import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SessionConfigError } from '../src/errors.js';
import { shardTagger } from '../src/stores/redis/shard-tag.js';

// Fixed secrets and ids: the test is deterministic, and every comparison below holds by a margin of
// 2^24 to 1 per pair, not by luck of the run.
const SECRET_A = Buffer.alloc(32, 0xa5);
const SECRET_B = Buffer.alloc(32, 0x5a);
const GUESSABLE = [
  ...Array.from({ length: 50 }, (_, n) => String(n + 1)),
  'alice@example.com',
  'bob@example.com',
  '00000000-0000-4000-8000-000000000001',
];
const unkeyed = (userId: string) =>
  createHash('sha256').update(userId).digest().subarray(0, 3).toString('base64url');

describe('user shard tag', () => {
  it('is 4 base64url characters, stable for one user under one secret', () => {
    const tag = shardTagger(SECRET_A);
    for (const user of GUESSABLE) {
      expect(tag(user)).toMatch(/^[A-Za-z0-9_-]{4}$/);
      expect(shardTagger(Buffer.from(SECRET_A))(user)).toBe(tag(user));
    }
  });

  it("is not SHA-256(userId) cut short, and can't be reproduced without the secret", () => {
    const a = shardTagger(SECRET_A);
    const b = shardTagger(SECRET_B);
    for (const user of GUESSABLE) {
      expect(a(user), user).not.toBe(unkeyed(user));
      expect(a(user), user).not.toBe(b(user));
    }
    // A table of tags for guessable ids, built without the secret, recovers no user.
    const table = new Map(GUESSABLE.map((user) => [unkeyed(user), user]));
    expect(GUESSABLE.filter((user) => table.has(a(user)))).toEqual([]);
  });

  it('copies the secret: changing the caller buffer later moves no user', () => {
    const secret = Buffer.from(SECRET_A);
    const tag = shardTagger(secret);
    const before = tag('42');
    secret.fill(0);
    expect(tag('42')).toBe(before);
  });

  it('refuses a missing, short or non-binary secret with a configuration error', () => {
    for (const secret of [undefined, null, Buffer.alloc(31), 'x'.repeat(64), 42]) {
      expect(() => shardTagger(secret)).toThrow(SessionConfigError);
      expect(() => shardTagger(secret)).toThrow(/at least 32 random bytes/);
    }
  });
});
