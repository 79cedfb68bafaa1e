import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  blankCookie,
  readCookie,
  resolveCookieOptions,
  serializeCookie,
  sessionCookie,
} from '../src/cookie.js';

describe('session cookie', () => {
  it('defaults to __Host-, HttpOnly, Secure, SameSite=Lax, Path=/, no Domain, browser-session', () => {
    const options = resolveCookieOptions();
    const header = serializeCookie(sessionCookie(options, 'tok', 3600));
    expect(header).toBe('__Host-tessera=tok; Path=/; HttpOnly; Secure; SameSite=Lax');
    expect(header).not.toMatch(/Domain|Max-Age|Expires/i);
  });

  it('persistent cookies carry Max-Age to the absolute deadline', () => {
    const options = resolveCookieOptions({ persistent: true });
    expect(serializeCookie(sessionCookie(options, 'tok', 86_399.7))).toBe(
      '__Host-tessera=tok; Path=/; Max-Age=86399; HttpOnly; Secure; SameSite=Lax',
    );
  });

  it('the clearing cookie has the same attributes and Max-Age=0', () => {
    expect(serializeCookie(blankCookie(resolveCookieOptions()))).toBe(
      '__Host-tessera=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax',
    );
  });

  it('plain-HTTP development drops the __Host- prefix and Secure', () => {
    const options = resolveCookieOptions({ secure: false });
    expect(serializeCookie(sessionCookie(options, 'tok'))).toBe(
      'tessera=tok; Path=/; HttpOnly; SameSite=Lax',
    );
  });

  it('refuses a __Host- cookie without Secure and invalid names', () => {
    expect(() => resolveCookieOptions({ name: '__Host-x', secure: false })).toThrow(/__Host-/);
    expect(() => resolveCookieOptions({ name: 'a b' })).toThrow(/not a valid token/);
  });
});

describe('readCookie', () => {
  const name = '__Host-tessera';
  it.each([
    [undefined, { status: 'missing' }],
    ['', { status: 'missing' }],
    ['other=1', { status: 'missing' }],
    ['__Host-tessera=abc', { status: 'found', value: 'abc' }],
    ['a=1; __Host-tessera=abc; b=2', { status: 'found', value: 'abc' }],
    ['  __Host-tessera = abc ;', { status: 'found', value: 'abc' }],
    ['junk; ;;=; x; __Host-tessera=abc', { status: 'found', value: 'abc' }],
    ['__Host-tessera="abc"', { status: 'found', value: 'abc' }],
    ['__Host-tessera=', { status: 'found', value: '' }],
    ['__Host-tessera=a; __Host-tessera=b', { status: 'duplicate' }],
    ['x__Host-tessera=abc', { status: 'missing' }],
  ])('%j -> %j', (header, expected) => {
    expect(readCookie(header, name)).toEqual(expected);
  });

  it('never throws and finds a planted value only under our exact name', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), fc.string({ maxLength: 200 }), (before, after) => {
        const result = readCookie(`${before}; ${after}`, name);
        expect(['missing', 'found', 'duplicate']).toContain(result.status);
      }),
      { numRuns: 3000 },
    );
  });

  it('copes with an 64 KB header quickly', () => {
    const header = `${'x=1; '.repeat(13_000)}__Host-tessera=abc`;
    expect(readCookie(header, name)).toEqual({ status: 'found', value: 'abc' });
  });
});
