import { describe, expect, it } from 'vitest';
import { deadlines, liveness, retentionMs } from '../src/policy.js';

const M = 60_000;
const policy = { idleMs: 30 * M, absoluteMs: 24 * 60 * M, tombstoneMs: 60 * M, bindingGraceMs: 0 };
const T = 1_700_000_000_000;

describe('liveness: two independent clocks, expired at the exact deadline', () => {
  it.each([
    // [createdAt, lastActivityAt, now, expected]
    [T, T, T, 'live'],
    [T, T, T + 30 * M - 1, 'live'],
    [T, T, T + 30 * M, 'idle_timeout'],
    [T, T + 10 * M, T + 40 * M - 1, 'live'],
    [T, T + 10 * M, T + 40 * M, 'idle_timeout'],
    [T, T + 24 * 60 * M - 5 * M, T + 24 * 60 * M - 1, 'live'],
    [T, T + 24 * 60 * M - 5 * M, T + 24 * 60 * M, 'absolute_timeout'],
    [T, T, T + 24 * 60 * M + 30 * M, 'absolute_timeout'],
    [T, T + 24 * 60 * M - 1, T + 24 * 60 * M, 'absolute_timeout'],
  ] as const)('created %i, active %i, now %i -> %s', (createdAt, lastActivityAt, now, expected) => {
    expect(liveness({ createdAt, lastActivityAt }, now, policy)).toBe(expected);
  });
});

describe('deadlines', () => {
  it('idle deadline slides, absolute is fixed, idle never lies beyond absolute', () => {
    expect(deadlines({ createdAt: T, lastActivityAt: T + M }, policy)).toEqual({
      idleExpiresAt: T + 31 * M,
      absoluteExpiresAt: T + 24 * 60 * M,
    });
    expect(deadlines({ createdAt: T, lastActivityAt: T + 24 * 60 * M - M }, policy).idleExpiresAt).toBe(
      T + 24 * 60 * M,
    );
  });

  it('retention is the nearer deadline plus the tombstone time', () => {
    expect(retentionMs({ createdAt: T, lastActivityAt: T }, T, policy)).toBe(30 * M + 60 * M);
    expect(
      retentionMs({ createdAt: T, lastActivityAt: T + 24 * 60 * M - M }, T + 24 * 60 * M - M, policy),
    ).toBe(M + 60 * M);
  });
});
