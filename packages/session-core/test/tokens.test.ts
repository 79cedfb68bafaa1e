import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  constantTimeEqual,
  hashToken,
  isSessionId,
  newToken,
  parseToken,
  prefixedSessionId,
  randomSessionId,
  SECRET_LENGTH,
  SESSION_ID_LENGTH,
  TOKEN_LENGTH,
} from '../src/tokens.js';

describe('tokens', () => {
  it('is <id>.<256-bit secret>, base64url, and only its SHA-256 is handed out for storage', () => {
    const id = randomSessionId();
    const { token, hash } = newToken(id);
    expect(token).toMatch(/^[A-Za-z0-9_-]{26}\.[A-Za-z0-9_-]{43}$/);
    expect(token.length).toBe(TOKEN_LENGTH);
    expect(Buffer.from(token.slice(SESSION_ID_LENGTH + 1), 'base64url').length).toBe(32);
    expect(SECRET_LENGTH).toBe(43);
    expect(hash).toHaveLength(32);
    expect(Buffer.from(hash).equals(Buffer.from(hashToken(token)))).toBe(true);
    expect(Buffer.from(hash).toString('latin1')).not.toContain(token.slice(SESSION_ID_LENGTH + 1));
  });

  it('session ids: 152 random bits, or a 4-character prefix (a store shard tag) + 128 random bits', () => {
    const a = randomSessionId();
    expect(isSessionId(a)).toBe(true);
    expect(Buffer.from(a, 'base64url').toString('base64url')).toBe(a); // 19 bytes, canonical
    const b = prefixedSessionId('AbC_');
    expect(b.slice(0, 4)).toBe('AbC_');
    expect(isSessionId(b)).toBe(true);
    expect(prefixedSessionId('AbC_')).not.toBe(b);
  });

  it('10,000 tokens are distinct and their secrets look uniformly random', () => {
    const seen = new Set<string>();
    const counts = new Map<string, number>();
    for (let i = 0; i < 10_000; i++) {
      const { token } = newToken(randomSessionId());
      seen.add(token);
      for (const ch of token.slice(SESSION_ID_LENGTH + 1, -1)) counts.set(ch, (counts.get(ch) ?? 0) + 1);
    }
    expect(seen.size).toBe(10_000);
    expect(counts.size).toBe(64);
    // 420,000 characters over 64 symbols: ~6,560 each; a broken generator lands far outside +-10%.
    for (const n of counts.values()) expect(Math.abs(n - 6562) / 6562).toBeLessThan(0.1);
  });

  it('parses its own tokens and rejects anything else as malformed', () => {
    const { token, hash } = newToken(randomSessionId());
    const parsed = parseToken(token);
    expect(parsed?.id).toBe(token.slice(0, SESSION_ID_LENGTH));
    expect(Buffer.from(parsed!.hash).equals(Buffer.from(hash))).toBe(true);
    for (const bad of [
      '',
      'x',
      token.slice(1),
      `${token}x`,
      token.replace('.', '-'),
      `${token.slice(0, -1)}=`,
      `${token.slice(0, 5)}/${token.slice(6)}`,
    ]) {
      expect(parseToken(bad)).toBeNull();
    }
    fc.assert(
      fc.property(fc.string({ maxLength: 100 }), (s) => {
        const p = parseToken(s);
        if (p) expect(s).toMatch(/^[A-Za-z0-9_-]{26}\.[A-Za-z0-9_-]{43}$/);
      }),
      { numRuns: 5000 },
    );
  });

  it('compares secrets in constant time and by value', () => {
    expect(constantTimeEqual('abc', 'abc')).toBe(true);
    expect(constantTimeEqual('abc', 'abd')).toBe(false);
    expect(constantTimeEqual('abc', 'abcd')).toBe(false);
    expect(constantTimeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2]))).toBe(true);
  });
});
