import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeUserAgent,
  encodeUserAgent,
  USER_AGENT_DICTIONARY,
} from '../src/stores/redis/user-agent-codec.js';

/** Real-world user agents (2024), with their encoded lengths pinned below. */
const REAL = {
  'Chrome/Windows':
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
  'Safari/iPhone':
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1',
  'Firefox/Linux': 'Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0',
  'Edge/Windows':
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.0.0',
  'Chrome/Android':
    'Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36',
  'Safari/macOS':
    'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15',
  'Firefox/Windows': 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0',
} as const;

/** Any UTF-16 code unit, lone surrogates and control characters included. */
const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));
/** Pieces that stress the codec: dictionary entries (whole and cut), control characters, the escape. */
const tricky = fc.oneof(
  fc.constantFrom(...USER_AGENT_DICTIONARY),
  fc
    .tuple(fc.constantFrom(...USER_AGENT_DICTIONARY), fc.nat(), fc.nat())
    .map(([entry, a, b]) => entry.slice(Math.min(a, b) % (entry.length + 1), Math.max(a, b))),
  fc.integer({ min: 0, max: 0x20 }).map((c) => String.fromCharCode(c)),
  fc.constantFrom('\x1f', '\x1f\x1f', '\x1f\x01', '\x00'),
  codeUnit,
);

/** Browser-like user agents with random versions and platforms. */
const realistic = fc
  .record({
    platform: fc.constantFrom(
      'Windows NT 10.0; Win64; x64',
      'Macintosh; Intel Mac OS X 10_15_7',
      'X11; Linux x86_64',
      'Linux; Android 10; K',
      'Linux; Android 14; SM-S918B',
      'iPhone; CPU iPhone OS 17_4 like Mac OS X',
    ),
    major: fc.integer({ min: 60, max: 199 }),
    minor: fc.integer({ min: 0, max: 9999 }),
    browser: fc.constantFrom('chrome', 'edge', 'safari', 'firefox', 'opera'),
  })
  .map(({ platform, major, minor, browser }) => {
    const webkit = ') AppleWebKit/537.36 (KHTML, like Gecko) ';
    switch (browser) {
      case 'chrome':
        return `Mozilla/5.0 (${platform}${webkit}Chrome/${major}.0.${minor}.0 Safari/537.36`;
      case 'edge':
        return `Mozilla/5.0 (${platform}${webkit}Chrome/${major}.0.0.0 Safari/537.36 Edg/${major}.0.${minor}.0`;
      case 'opera':
        return `Mozilla/5.0 (${platform}${webkit}Chrome/${major}.0.0.0 Safari/537.36 OPR/${major - 14}.0.0.0`;
      case 'safari':
        return `Mozilla/5.0 (${platform}) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.${minor % 10} Mobile/15E148 Safari/604.1`;
      default:
        return `Mozilla/5.0 (${platform}; rv:${major}.0) Gecko/20100101 Firefox/${major}.0`;
    }
  });

describe('user-agent codec', () => {
  it('round-trips any string exactly (any UTF-16 code units, lone surrogates and controls included)', () => {
    fc.assert(
      fc.property(fc.string({ unit: codeUnit, maxLength: 200 }), (s) => {
        expect(decodeUserAgent(encodeUserAgent(s))).toBe(s);
      }),
      { numRuns: 2000 },
    );
    for (const unit of ['binary', 'binary-ascii', 'grapheme'] as const) {
      fc.assert(
        fc.property(fc.string({ unit }), (s) => {
          expect(decodeUserAgent(encodeUserAgent(s))).toBe(s);
        }),
        { numRuns: 500 },
      );
    }
  });

  it('round-trips strings made of dictionary entries, their fragments, control characters and escapes', () => {
    fc.assert(
      fc.property(fc.array(tricky, { maxLength: 30 }), (parts) => {
        const s = parts.join('');
        expect(decodeUserAgent(encodeUserAgent(s))).toBe(s);
      }),
      { numRuns: 3000 },
    );
  });

  it('round-trips realistic user agents and shrinks them to at most a third', () => {
    fc.assert(
      fc.property(realistic, (ua) => {
        const encoded = encodeUserAgent(ua);
        expect(decodeUserAgent(encoded)).toBe(ua);
        expect(encoded.length).toBeLessThanOrEqual(ua.length / 3);
      }),
      { numRuns: 1000 },
    );
  });

  it('compresses real-world user agents to ~10 characters', () => {
    const lengths = Object.entries(REAL).map(([name, ua]) => {
      const encoded = encodeUserAgent(ua);
      expect(decodeUserAgent(encoded)).toBe(ua);
      return [name, ua.length, encoded.length] as const;
    });
    console.log(
      `[user-agent codec] ${lengths.map(([name, from, to]) => `${name} ${from} -> ${to}`).join(', ')}`,
    );
    expect(Object.fromEntries(lengths.map(([name, , to]) => [name, to]))).toEqual({
      'Chrome/Windows': 9,
      'Safari/iPhone': 18,
      'Firefox/Linux': 14,
      'Edge/Windows': 14,
      'Chrome/Android': 9,
      'Safari/macOS': 11,
      'Firefox/Windows': 14,
    });
    for (const [, from, to] of lengths) expect(to / from).toBeLessThanOrEqual(0.2);
  });

  it('takes the longest entry at each position', () => {
    const code = (entry: string) => String.fromCharCode(USER_AGENT_DICTIONARY.indexOf(entry) + 1);
    expect(encodeUserAgent('Macintosh; Intel Mac OS X 10_15_7')).toBe(
      code('Macintosh; Intel Mac OS X 10_15_7'),
    );
    expect(encodeUserAgent('Macintosh; Intel Mac OS X 10.15')).toBe(
      `${code('Macintosh; Intel Mac OS X ')}10.15`,
    );
    expect(encodeUserAgent('Chrome/1 Mobile Safari/537.36')).toBe(
      `${code('Chrome/')}1${code(' Mobile Safari/537.36')}`,
    );
  });

  it('escapes control characters already in the input; U+0000 and everything else stand for themselves', () => {
    expect(encodeUserAgent('a\x01b\x1fc\td')).toBe('a\x1f\x01b\x1f\x1fc\x1f\td');
    expect(encodeUserAgent('\x00 ü 😀')).toBe('\x00 ü 😀');
    // A user agent without control characters reads back as itself.
    expect(decodeUserAgent('curl/8.5.0')).toBe('curl/8.5.0');
    expect(decodeUserAgent('')).toBe('');
  });

  it('keeps its dictionary frozen: stored sessions decode with the table they were written with', () => {
    expect(USER_AGENT_DICTIONARY).toHaveLength(30);
    expect(Object.isFrozen(USER_AGENT_DICTIONARY)).toBe(true);
    expect(new Set(USER_AGENT_DICTIONARY).size).toBe(30);
    for (const entry of USER_AGENT_DICTIONARY) expect(entry).toMatch(/^[\x20-\x7e]{2,}$/);
    // Changing, adding or reordering an entry changes this digest: don't (see user-agent-codec.ts).
    const digest = createHash('sha256').update(JSON.stringify(USER_AGENT_DICTIONARY)).digest('hex');
    expect(digest).toBe(FROZEN_DIGEST);
    expect(encodeUserAgent(REAL['Chrome/Windows'])).toBe('\x01\x02\x0b\x0d124\x19\x0e');
  });
});

const FROZEN_DIGEST = 'c0fa99294363885bef27ccb7277e15dac77b810037b4f99ec4e81314e2cffcc1';
