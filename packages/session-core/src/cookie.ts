/**
 * Cookies are data. The manager returns `SessionCookie` objects; one function in the web framework's glue
 * (or `serializeCookie` here) writes them. Defaults follow the OWASP Session Management Cheat Sheet and
 * ASVS 5.0 V3.3: `__Host-` prefix (Secure, Path=/, no Domain: the cookie can't be set or shadowed by a
 * sibling subdomain), HttpOnly (no script access), SameSite=Lax (no cross-site subrequests).
 */
export interface CookieAttributes {
  httpOnly: boolean;
  secure: boolean;
  sameSite: 'lax' | 'strict' | 'none';
  path: string;
  /** Seconds; absent for a browser-session cookie. 0 deletes the cookie. */
  maxAge?: number;
}

export interface SessionCookie {
  name: string;
  value: string;
  attributes: CookieAttributes;
}

export interface CookieOptions {
  /**
   * Cookie name. Default `'__Host-tessera'` when `secure`, `'tessera'` otherwise (browsers refuse a
   * `__Host-` cookie without Secure, e.g. on plain-HTTP localhost).
   */
  name?: string;
  /** Default `true`. Turn off only for plain-HTTP development. */
  secure?: boolean;
  /** Default `'lax'`: top-level navigations keep you signed in, cross-site POSTs and iframes don't. */
  sameSite?: 'lax' | 'strict';
  /**
   * Default `false`: a browser-session cookie (no Max-Age), as the OWASP cheat sheet recommends; the
   * server-side deadlines still apply. `true` sets Max-Age to the absolute deadline so the cookie
   * survives a browser restart.
   */
  persistent?: boolean;
}

export interface ResolvedCookieOptions {
  name: string;
  secure: boolean;
  sameSite: 'lax' | 'strict';
  persistent: boolean;
}

/** A cookie name is an RFC 6265 token (RFC 9110 tchar): anything else can't be set or read back. */
export function isCookieName(name: unknown): name is string {
  return typeof name === 'string' && /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name);
}

export function resolveCookieOptions(options: CookieOptions = {}): ResolvedCookieOptions {
  const secure = options.secure ?? true;
  const name = options.name ?? (secure ? '__Host-tessera' : 'tessera');
  if (!isCookieName(name)) throw new TypeError(`cookie name '${name}' is not a valid token`);
  if (name.startsWith('__Host-') && !secure) throw new TypeError('a __Host- cookie requires secure: true');
  return { name, secure, sameSite: options.sameSite ?? 'lax', persistent: options.persistent ?? false };
}

export function sessionCookie(
  options: ResolvedCookieOptions,
  token: string,
  maxAgeSeconds?: number,
): SessionCookie {
  const attributes: CookieAttributes = {
    httpOnly: true,
    secure: options.secure,
    sameSite: options.sameSite,
    path: '/',
  };
  if (options.persistent && maxAgeSeconds !== undefined)
    attributes.maxAge = Math.max(0, Math.floor(maxAgeSeconds));
  return { name: options.name, value: token, attributes };
}

/**
 * The cookie that deletes a cookie of this name: same attributes, empty value, Max-Age=0. With a
 * manager at hand, `sessions.blankCookie()` gives the one for the session cookie.
 */
export function blankCookie(options: {
  name: string;
  secure: boolean;
  sameSite: CookieAttributes['sameSite'];
}): SessionCookie {
  return {
    name: options.name,
    value: '',
    attributes: { httpOnly: true, secure: options.secure, sameSite: options.sameSite, path: '/', maxAge: 0 },
  };
}

const SAME_SITE = { lax: 'Lax', strict: 'Strict', none: 'None' } as const;

/** `Set-Cookie` header value. Values are base64url tokens, so no encoding is needed. */
export function serializeCookie(cookie: SessionCookie): string {
  const { attributes: a } = cookie;
  let out = `${cookie.name}=${cookie.value}; Path=${a.path}`;
  if (a.maxAge !== undefined) out += `; Max-Age=${a.maxAge}`;
  if (a.httpOnly) out += '; HttpOnly';
  if (a.secure) out += '; Secure';
  return `${out}; SameSite=${SAME_SITE[a.sameSite]}`;
}

export type CookieRead =
  | { status: 'missing' }
  | { status: 'found'; value: string }
  /** Several cookies of our name (e.g. one planted for a parent domain): refuse to guess. */
  | { status: 'duplicate' };

/**
 * Finds our cookie in a `Cookie` header. Tolerates junk (pairs without `=`, stray semicolons, other
 * cookies with odd bytes) and never throws; only looks at the one name. Values are returned as-is;
 * `validate` decides whether one is well formed.
 */
export function readCookie(header: string | undefined | null, name: string): CookieRead {
  if (!header) return { status: 'missing' };
  let found: string | undefined;
  let count = 0;
  let from = 0;
  while (from < header.length) {
    let end = header.indexOf(';', from);
    if (end === -1) end = header.length;
    const eq = header.indexOf('=', from);
    if (eq !== -1 && eq < end && header.slice(from, eq).trim() === name) {
      let value = header.slice(eq + 1, end).trim();
      if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
      count++;
      found = value;
    }
    from = end + 1;
  }
  if (count === 0) return { status: 'missing' };
  if (count > 1) return { status: 'duplicate' };
  return { status: 'found', value: found! };
}
