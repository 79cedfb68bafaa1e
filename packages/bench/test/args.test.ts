import { describe, expect, it } from 'vitest';
import { parseArgs, UsageError, wants } from '../src/lib/args.js';
import { USER_AGENT } from '../src/lib/sessions.js';

describe('options', () => {
  it('defaults to the full run: 5 rounds and a million sessions', () => {
    const o = parseArgs([]);
    expect(o.rounds).toBe(5);
    expect(o.bigSessions).toBe(1_000_000);
    expect(o.quick).toBe(false);
    expect(wants(o, 7)).toBe(true);
  });

  it('makes --quick short and small', () => {
    const o = parseArgs(['--quick']);
    expect(o.rounds).toBe(2);
    expect(o.bigSessions).toBeLessThan(1_000_000);
    expect(o.warmup).toBe(false);
  });

  it('reads --only, --sessions with separators and --flag=value', () => {
    const o = parseArgs(['--only', '1,4', '--sessions=2_000_000', '--rounds', '7']);
    expect([...o.only]).toEqual([1, 4]);
    expect(wants(o, 4)).toBe(true);
    expect(wants(o, 5)).toBe(false);
    expect(o.bigSessions).toBe(2_000_000);
    expect(o.rounds).toBe(7);
  });

  it('refuses unknown options and bad values', () => {
    expect(() => parseArgs(['--fast'])).toThrow(UsageError);
    expect(() => parseArgs(['--only', '12'])).toThrow(/1-9/);
    expect(() => parseArgs(['--rounds', '0'])).toThrow(UsageError);
    expect(() => parseArgs(['--rounds'])).toThrow(/needs a value/);
  });
});

describe('fixtures', () => {
  it('uses a 110-character user agent, as target 6 asks', () => {
    expect(USER_AGENT).toHaveLength(110);
  });
});
