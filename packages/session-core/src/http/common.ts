/**
 * What the framework helpers (`./web`, `./node`) share: read the session cookie from a `Cookie` header,
 * validate it, and hand back everything a request handler needs next, as data:
 * `{ session, reason, token, setCookie }`. Written against the manager's public interface only, so the
 * helpers work with any store and carry no framework dependency.
 */
import { readCookie, type SessionCookie, serializeCookie } from '../cookie.js';
import type { InvalidReason, Session, SessionManager } from '../manager.js';
import type { SessionData } from '../store.js';

/** The part of a session manager the helpers use (any `createSessionManager(...)` result fits). */
export type SessionReader<TData extends object = SessionData> = Pick<
  SessionManager<TData>,
  'cookieName' | 'validate' | 'blankCookie'
>;

/**
 * Why there is no session: what `validate` said, or `'duplicate'` when the request carried several
 * cookies of our name (one planted for a parent domain, say), so the helper adopted neither.
 */
export type NoSessionReason = InvalidReason | 'duplicate';

/**
 * The outcome of one request's session check. `setCookie` is a serialized `Set-Cookie` value to add to
 * the response whenever it is non-null: the rotated token (the session got a new one on this request)
 * or the cookie that clears a dead or ambiguous one. Write it on every path, 401s included.
 */
export type SessionLookup<TData extends object = SessionData> =
  | {
      session: Session<TData>;
      reason: null;
      /** The token in force: the rotated one when this request rotated it, else the presented one. */
      token: string;
      setCookie: string | null;
    }
  | { session: null; reason: NoSessionReason; token: null; setCookie: string | null };

export interface GetSessionOptions {
  /**
   * The cookie to read, and the name every cookie the helper writes carries. Default: the manager's
   * (`manager.cookieName`). Set it only when you name cookies yourself rather than through the
   * manager's `cookie.name` option.
   */
  cookieName?: string;
}

const renamed = (cookie: SessionCookie, name: string): SessionCookie =>
  cookie.name === name ? cookie : { ...cookie, name };

/**
 * The shared core of `getSession`. Never catches: a store failure rejects with `SessionStoreError`
 * (code `STORE_UNAVAILABLE`), which must be answered with 503, never read as "signed out" (fail closed,
 * OWASP ASVS 5.0 V7.2).
 */
export async function lookupSession<TData extends object>(
  manager: SessionReader<TData>,
  cookieHeader: string | null | undefined,
  options: GetSessionOptions = {},
): Promise<SessionLookup<TData>> {
  const name = options.cookieName ?? manager.cookieName;
  const read = readCookie(cookieHeader, name);
  if (read.status === 'missing') return { session: null, reason: 'missing', token: null, setCookie: null };
  if (read.status === 'duplicate') {
    // RFC 6265 5.4 gives no way to tell which one the server set: adopt neither, clear ours.
    const clear = serializeCookie(renamed(manager.blankCookie(), name));
    return { session: null, reason: 'duplicate', token: null, setCookie: clear };
  }
  const result = await manager.validate(read.value);
  const setCookie = result.cookie ? serializeCookie(renamed(result.cookie, name)) : null;
  if (result.session === null) return { session: null, reason: result.reason, token: null, setCookie };
  return { session: result.session, reason: null, token: result.token, setCookie };
}

/** `Set-Cookie` values of `existing` minus those for `name` (RFC 6265 4.1.1: one per name per response). */
export function withoutCookie(existing: readonly string[], name: string): string[] {
  return existing.filter((line) => {
    const eq = line.indexOf('=');
    return eq === -1 || line.slice(0, eq).trim() !== name;
  });
}

/** The `Set-Cookie` value to write, and the cookie name it sets. */
export function setCookieLine(cookie: SessionCookie | string): { line: string; name: string } {
  const line = typeof cookie === 'string' ? cookie : serializeCookie(cookie);
  const eq = line.indexOf('=');
  return { line, name: eq === -1 ? line.trim() : line.slice(0, eq).trim() };
}
