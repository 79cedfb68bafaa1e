import { describe, expect, it } from 'vitest';
import { refusalThrottle } from '../src/audit/refusal-throttle.js';

describe('refusalThrottle: one audit row per session per window', () => {
  it('lets the first through, holds the rest of the window, and lets one through again after it', () => {
    const allow = refusalThrottle({ windowMs: 60_000, maxKeys: 100 });
    expect(allow('s1', 0)).toBe(true);
    expect(allow('s1', 1)).toBe(false);
    expect(allow('s1', 59_999)).toBe(false);
    expect(allow('s2', 59_999)).toBe(true);
    expect(allow('s1', 60_000)).toBe(true);
    expect(allow('s1', 60_001)).toBe(false);
  });

  it('stays bounded: past maxKeys the oldest key is forgotten (and may record again)', () => {
    const allow = refusalThrottle({ windowMs: 60_000, maxKeys: 2 });
    expect(allow('a', 0)).toBe(true);
    expect(allow('b', 1)).toBe(true);
    expect(allow('c', 2)).toBe(true); // forgets 'a'
    expect(allow('a', 3)).toBe(true);
    expect(allow('c', 4)).toBe(false);
  });
});
