import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseDuration } from '../src/durations.js';
import { SessionConfigError } from '../src/errors.js';

describe('parseDuration', () => {
  it.each([
    ['30m', 1_800_000],
    ['24h', 86_400_000],
    ['1h30m', 5_400_000],
    ['1h 30m', 5_400_000],
    ['90s', 90_000],
    ['500ms', 500],
    ['1.5h', 5_400_000],
    ['2d', 172_800_000],
    ['1w', 604_800_000],
    ['1500', 1500],
    [' 15m ', 900_000],
    [2500, 2500],
  ])('%s -> %i ms', (input, ms) => {
    expect(parseDuration(input)).toBe(ms);
  });

  it.each(
    ['', 'abc', '10', '10x', 'm', '-5m', '5m junk', '1e3m', 'NaN', '30 minutes'].filter((x) => x !== '10'),
  )('rejects %j with a clear error', (input) => {
    expect(() => parseDuration(input, 'idleTimeout')).toThrow(SessionConfigError);
    expect(() => parseDuration(input, 'idleTimeout')).toThrow(/idleTimeout/);
  });

  it.each([-1, Number.NaN, Number.POSITIVE_INFINITY])('rejects the number %s', (n) => {
    expect(() => parseDuration(n)).toThrow(SessionConfigError);
  });

  it('never throws anything but SessionConfigError, whatever the string', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (s) => {
        try {
          const ms = parseDuration(s);
          expect(Number.isInteger(ms) && ms >= 0).toBe(true);
        } catch (error) {
          expect(error).toBeInstanceOf(SessionConfigError);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
