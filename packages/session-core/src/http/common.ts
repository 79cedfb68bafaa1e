/**
 * What the framework helpers (`./web`, `./node`) share: read the session cookie from a `Cookie` header,
 * validate it, and hand back everything a request handler needs next, as data:
 * `{ session, reason, token, setCookie }`. Written against the manager's public interface only, so the
 * helpers work with any store and carry no framework dependency.
 */
import { readCookie, type SessionCookie, serializeCookie } from '../cookie.js';
import type { DeviceAnswer } from '../device-binding.js';
import type { InvalidReason, Session, SessionManager } from '../manager.js';
import type { SessionData } from '../store.js';

/** The part of a session manager the helpers use (any `createSessionManager(...)` result fits). */
export type SessionReader<TData extends object = SessionData> = Pick<
  SessionManager<TData>,
  'cookieName' | 'validate' | 'blankCookie'
> & {
  /** With device binding on, the helpers also read the bound cookie and answer the DBSC endpoints. */
  deviceBinding?: SessionManager<TData>['deviceBinding'];
};

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
  const result = await manager.validate(read.value, { bound: boundCookieOf(manager, cookieHeader) });
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

/** The bound cookie's value when device binding is on (several of that name count as none). */
function boundCookieOf(
  manager: { deviceBinding?: { cookieName: string } | null },
  cookieHeader: string | null | undefined,
) {
  if (!manager.deviceBinding) return null;
  const read = readCookie(cookieHeader, manager.deviceBinding.cookieName);
  return read.status === 'found' ? read.value : null;
}

/** What the DBSC endpoints need of a request, whatever the framework. */
export interface DeviceRequest {
  method: string;
  /** The path, without the query string. */
  path: string;
  cookieHeader: string | null | undefined;
  header(name: string): string | null | undefined;
  /** Handed back on the events the call emits (`SessionEvent.context`). */
  context?: unknown;
}

/**
 * Answers `POST registrationPath` and `POST refreshPath` as data (`handleDeviceBinding` writes it; a
 * framework with its own reply object writes it itself); null for any other path (or when device
 * binding is off), so the app's own routing goes on. Other methods on those paths get 405.
 * A request a browser marks cross-site (`Sec-Fetch-Site`) is refused: only the page's own origin may
 * drive a refresh (the spec's timing side channel).
 * @throws SessionStoreError when the store can't answer: answer 503 (the browser retries later).
 */
export async function answerDeviceRequest(
  manager: Pick<SessionReader<object>, 'cookieName' | 'deviceBinding'>,
  request: DeviceRequest,
): Promise<DeviceAnswer | null> {
  const binding = manager.deviceBinding;
  if (!binding) return null;
  const register = request.path === binding.registrationPath;
  if (!register && request.path !== binding.refreshPath) return null;
  const refused = (status: 400 | 405, error: string): DeviceAnswer => ({
    status,
    headers: {
      'Cache-Control': 'no-store',
      'Content-Type': 'application/json',
      ...(status === 405 ? { Allow: 'POST' } : {}),
    },
    cookies: [],
    body: JSON.stringify({ error }),
    outcome: 'refused',
    reason: error,
  });
  if (request.method !== 'POST') return refused(405, 'method_not_allowed');
  const site = request.header('sec-fetch-site');
  if (site && site !== 'same-origin') return refused(400, 'cross_site');
  const read = readCookie(request.cookieHeader, manager.cookieName);
  const token = read.status === 'found' ? read.value : null;
  const response = request.header('secure-session-response');
  const { context } = request;
  if (register) return binding.register({ token, response, context });
  return binding.refresh({ token, sessionId: request.header('sec-secure-session-id'), response, context });
}
