/** The start banner's durations: written as people write them, and read back to the same value. */
import { parseDuration } from '@tessera/session-core';
import { describe, expect, it } from 'vitest';
import { formatDuration } from '../src/durations.js';

describe('formatDuration', () => {
  it.each([
    [0, '0s'],
    [1, '1ms'],
    [500, '500ms'],
    [1_000, '1s'],
    [1_500, '1s500ms'],
    [4_000, '4s'],
    [15_000, '15s'],
    [59_000, '59s'],
    [60_000, '1m'],
    [90_000, '1m30s'],
    [30 * 60_000, '30m'],
    [3_600_000, '1h'],
    [90 * 60_000, '1h30m'],
    [24 * 3_600_000, '24h'],
    [25 * 3_600_000, '25h'],
    [47 * 3_600_000, '47h'],
    [48 * 3_600_000, '2d'],
    [49 * 3_600_000, '2d1h'],
    [14 * 86_400_000, '14d'],
    [90 * 86_400_000, '90d'],
    [86_400_000 + 1_000, '24h1s'],
    [4_000.4, '4s'],
    [999.6, '1s'],
  ])('%d ms -> %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it('prints what parseDuration reads back to the same milliseconds', () => {
    for (const ms of [0, 7, 4_000, 65_432, 30 * 60_000, 8 * 3_600_000 + 1, 30 * 86_400_000]) {
      expect(parseDuration(formatDuration(ms))).toBe(ms);
    }
  });

  it('refuses what is not a duration', () => {
    for (const ms of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => formatDuration(ms)).toThrow(RangeError);
    }
  });
});
