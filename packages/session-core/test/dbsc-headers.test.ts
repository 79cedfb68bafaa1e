import { describe, expect, it } from 'vitest';
import { newChallenge } from '../src/dbsc/challenge.js';
import { sessionConfig, terminateConfig } from '../src/dbsc/config.js';
import {
  challengeHeader,
  parseSessionIdHeader,
  parseSessionResponseHeader,
  registrationHeader,
} from '../src/dbsc/headers.js';

/** The sf-string reader a browser would use (RFC 8941 §4.2.5), kept apart from the code under test. */
function quote(value: string): string {
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

describe('registrationHeader', () => {
  it('writes the inner list of algorithms and the string parameters', () => {
    expect(
      registrationHeader({ algorithms: ['ES256', 'RS256'], path: '/dbsc/register', challenge: 'abc_-1' }),
    ).toBe('(ES256 RS256);path="/dbsc/register";challenge="abc_-1"');
    expect(
      registrationHeader({ algorithms: ['ES256'], path: '/r', challenge: 'c', authorization: 'code 1' }),
    ).toBe('(ES256);path="/r";challenge="c";authorization="code 1"');
  });

  it('escapes quotes and backslashes', () => {
    expect(registrationHeader({ algorithms: ['RS256'], path: '/a"b\\c', challenge: 'c' })).toBe(
      '(RS256);path="/a\\"b\\\\c";challenge="c"',
    );
  });

  it('throws on what a structured field cannot carry or a browser would refuse', () => {
    const ok = { algorithms: ['ES256'] as const, path: '/r', challenge: 'c' };
    expect(() => registrationHeader({ ...ok, path: '/r\n' })).toThrow(/printable ASCII/);
    expect(() => registrationHeader({ ...ok, challenge: 'é' })).toThrow(/printable ASCII/);
    expect(() => registrationHeader({ ...ok, challenge: '' })).toThrow(/challenge/);
    expect(() => registrationHeader({ ...ok, path: '' })).toThrow(/path/);
    expect(() => registrationHeader({ ...ok, algorithms: [] })).toThrow(/algorithms/);
    expect(() => registrationHeader({ ...ok, algorithms: ['none' as 'ES256'] })).toThrow(/none/);
    expect(() => registrationHeader({ ...ok, algorithms: ['ES256', 'ES256'] })).toThrow(/repeat/);
  });
});

describe('challengeHeader', () => {
  it('writes the challenge with the session id parameter', () => {
    expect(challengeHeader({ challenge: 'q0bW-_', sessionId: 'AbC_1' })).toBe('"q0bW-_";id="AbC_1"');
    expect(() => challengeHeader({ challenge: 'c', sessionId: '' })).toThrow(/sessionId/);
    expect(() => challengeHeader({ challenge: '', sessionId: 'x' })).toThrow(/challenge/);
  });
});

describe('parseSessionResponseHeader / parseSessionIdHeader', () => {
  const proof = 'eyJhbGciOiJFUzI1NiJ9.eyJqdGkiOiJjIn0.c2ln';
  const id = 'x2Yp0E-QvNCw_7b1nT3xCAjXcw';

  it('reads the raw form Chromium sends and the quoted form of the spec', () => {
    expect(parseSessionResponseHeader(proof)).toEqual({ value: proof });
    expect(parseSessionResponseHeader(quote(proof))).toEqual({ value: proof });
    expect(parseSessionResponseHeader(` ${proof}\t`)).toEqual({ value: proof });
    expect(parseSessionIdHeader(id)).toEqual({ value: id });
    expect(parseSessionIdHeader(quote(id))).toEqual({ value: id });
  });

  it('round-trips what challengeHeader writes', () => {
    const sessionId = 'a.b~c';
    const [challengePart, idPart] = challengeHeader({ challenge: newChallenge(), sessionId }).split(';id=');
    expect(parseSessionIdHeader(idPart)).toEqual({ value: sessionId });
    expect(parseSessionIdHeader(challengePart)).toMatchObject({
      value: expect.stringMatching(/^[\w-]{43}$/),
    });
  });

  it('says why a value is refused', () => {
    expect(parseSessionResponseHeader(undefined)).toEqual({ value: null, reason: 'missing' });
    expect(parseSessionResponseHeader(null)).toEqual({ value: null, reason: 'missing' });
    expect(parseSessionResponseHeader('  ')).toEqual({ value: null, reason: 'missing' });
    for (const bad of [
      `${proof}, ${proof}`,
      `"${proof}`,
      `"${proof}";x=1`,
      `"${proof}"x`,
      `"a\\nb.c.d"`,
      `${proof}.x`,
      'a.b',
      `${proof} ${proof}`,
      '"a\tb"',
    ])
      expect(parseSessionResponseHeader(bad), bad).toEqual({ value: null, reason: 'malformed' });
    expect(parseSessionIdHeader('a b')).toEqual({ value: null, reason: 'malformed' });
    expect(parseSessionIdHeader('a,b')).toEqual({ value: null, reason: 'malformed' });
    expect(parseSessionIdHeader('""')).toEqual({ value: null, reason: 'malformed' });
  });

  it('refuses values past their bound, quoted or not', () => {
    const big = `${'a'.repeat(4096)}.${'b'.repeat(4096)}.c`;
    expect(big.length).toBe(8195);
    expect(parseSessionResponseHeader(big)).toEqual({ value: null, reason: 'too_large' });
    expect(parseSessionResponseHeader(quote(big))).toEqual({ value: null, reason: 'too_large' });
    const fits = `${'a'.repeat(4093)}.${'b'.repeat(4096)}.c`;
    expect(fits.length).toBe(8192);
    expect(parseSessionResponseHeader(quote(fits))).toEqual({ value: fits });
    expect(parseSessionIdHeader('i'.repeat(257))).toEqual({ value: null, reason: 'too_large' });
    expect(parseSessionIdHeader('i'.repeat(256))).toEqual({ value: 'i'.repeat(256) });
  });
});

describe('sessionConfig / terminateConfig', () => {
  const base = {
    sessionId: 'sid',
    refreshUrl: '/dbsc/refresh',
    origin: 'https://app.example',
    cookieName: '__Host-tessera-bound',
    cookieAttributes: 'Path=/; Secure; HttpOnly; SameSite=Lax',
  };

  it('has the field names Chromium reads', () => {
    expect(sessionConfig(base)).toStrictEqual({
      session_identifier: 'sid',
      refresh_url: '/dbsc/refresh',
      continue: true,
      scope: { origin: 'https://app.example', include_site: false },
      credentials: [
        {
          type: 'cookie',
          name: '__Host-tessera-bound',
          attributes: 'Path=/; Secure; HttpOnly; SameSite=Lax',
        },
      ],
      allowed_refresh_initiators: [],
    });
  });

  it('writes CookieAttributes as serializeCookie does, without the lifetime', () => {
    const config = sessionConfig({
      ...base,
      includeSite: true,
      cookieAttributes: { httpOnly: true, secure: true, sameSite: 'lax', path: '/', maxAge: 600 },
      scopeSpecification: [{ type: 'exclude', domain: 'app.example', path: '/static' }],
    });
    expect(config.credentials[0].attributes).toBe('Path=/; HttpOnly; Secure; SameSite=Lax');
    expect(config.scope).toStrictEqual({
      origin: 'https://app.example',
      include_site: true,
      scope_specification: [{ type: 'exclude', domain: 'app.example', path: '/static' }],
    });
  });

  it('throws on attributes Chrome refuses and on origins it would not bind', () => {
    expect(() => sessionConfig({ ...base, cookieAttributes: 'Path=/; Max-Age=600; Secure' })).toThrow(
      /Max-Age/,
    );
    expect(() =>
      sessionConfig({ ...base, cookieAttributes: 'Path=/; expires=Wed, 21 Oct 2026 07:28:00 GMT' }),
    ).toThrow(/expires/);
    expect(() => sessionConfig({ ...base, cookieAttributes: 'Path=/; Partitioned' })).toThrow(/Partitioned/);
    expect(() => sessionConfig({ ...base, origin: 'http://app.example' })).toThrow(/https/);
    expect(() => sessionConfig({ ...base, origin: 'https://app.example/' })).toThrow(/serialized origin/);
    expect(() => sessionConfig({ ...base, cookieName: 'a b' })).toThrow(/cookieName/);
    expect(() => sessionConfig({ ...base, sessionId: '' })).toThrow(/sessionId/);
    expect(sessionConfig({ ...base, origin: 'http://localhost:3000' }).scope.origin).toBe(
      'http://localhost:3000',
    );
  });

  it('terminates with the identifier Chromium needs', () => {
    expect(terminateConfig('sid')).toStrictEqual({ session_identifier: 'sid', continue: false });
    expect(() => terminateConfig('')).toThrow(/sessionId/);
  });
});

describe('newChallenge', () => {
  it('is 32 random bytes in base64url', () => {
    const a = newChallenge();
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(a, 'base64url')).toHaveLength(32);
    expect(new Set(Array.from({ length: 100 }, newChallenge)).size).toBe(100);
  });
});
