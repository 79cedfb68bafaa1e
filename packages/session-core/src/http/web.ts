/**
 * `@tessera/session-core/web`: sessions over Web-standard `Request`/`Headers`, for Hono, Next.js route
 * handlers and middleware, React Router, Bun and Deno. No framework dependency.
 *
 * ```ts
 * const s = await getSession(sessions, request); // throws SessionStoreError when the store is down: 503
 * if (s.setCookie) headers.append('set-cookie', s.setCookie); // rotated, or clearing a dead cookie
 * if (!s.session) return Response.json({ reason: s.reason }, { status: 401, headers });
 * ```
 */
import { type SessionCookie, serializeCookie } from '../cookie.js';
import type { SessionData } from '../store.js';
import {
  answerDeviceRequest,
  type GetSessionOptions,
  lookupSession,
  type SessionLookup,
  type SessionReader,
  setCookieLine,
  withoutCookie,
} from './common.js';

export type { DeviceAnswer, DeviceAnswerOutcome } from '../device-binding.js';
export type {
  DeviceRequest,
  GetSessionOptions,
  NoSessionReason,
  SessionLookup,
  SessionReader,
} from './common.js';
export { answerDeviceRequest, serializeCookie };

/** The bit of a Fetch `Headers` object `getSession` reads. */
export interface HeadersLike {
  get(name: string): string | null;
}

/** The bits of a Fetch `Headers` object `writeCookie` uses (`getSetCookie`: Node 20, Bun, Deno, browsers). */
export interface SetCookieHeaders {
  getSetCookie(): string[];
  append(name: string, value: string): void;
  delete(name: string): void;
}

/**
 * Reads the session cookie of `request` (a `Request`, or just its `Headers`) and validates it: one store
 * round trip that checks both deadlines and slides the idle one.
 * Resolves to `{ session, reason, token, setCookie }`; "no session" is a value (`session: null` and a
 * `reason`: `missing`, `duplicate`, `malformed`, `idle_timeout`, `revoked`, ...).
 * @throws SessionStoreError when the store can't answer: answer 503, never treat it as signed out.
 */
export function getSession<TData extends object = SessionData>(
  manager: SessionReader<TData>,
  request: { headers: HeadersLike } | HeadersLike,
  options?: GetSessionOptions,
): Promise<SessionLookup<TData>> {
  const headers = 'headers' in request ? request.headers : request;
  return lookupSession(manager, headers.get('cookie'), options);
}

/**
 * Adds a `Set-Cookie` to `headers` (a `SessionCookie` from `create`/`rotate`/logout, or a `setCookie`
 * string from `getSession`), replacing one this response already set for the same cookie, so a logout
 * after a rotation sends one clearing cookie, not two (RFC 6265 4.1.1). Does nothing for null.
 */
export function writeCookie(
  headers: SetCookieHeaders,
  cookie: SessionCookie | string | null | undefined,
): void {
  if (!cookie) return;
  const { line, name } = setCookieLine(cookie);
  const existing = headers.getSetCookie();
  const kept = withoutCookie(existing, name);
  if (kept.length !== existing.length) {
    headers.delete('set-cookie');
    for (const other of kept) headers.append('set-cookie', other);
  }
  headers.append('set-cookie', line);
}

/**
 * Answers the DBSC endpoints (`POST /dbsc/register`, `POST /dbsc/refresh` by default) when device
 * binding is on; resolves to null for any other request, so mount it first and fall through:
 *
 * ```ts
 * app.use(async (c, next) => (await handleDeviceBinding(sessions, c.req.raw)) ?? next());
 * ```
 * @throws SessionStoreError when the store can't answer: answer 503 (the browser retries later).
 */
export async function handleDeviceBinding(
  manager: Pick<SessionReader<object>, 'cookieName' | 'deviceBinding'>,
  request: { method: string; url: string; headers: HeadersLike },
  /** `context`: handed back on the events the call emits (who asked, from where: for an audit log). */
  options: { context?: unknown } = {},
): Promise<Response | null> {
  if (!manager.deviceBinding) return null;
  const answer = await answerDeviceRequest(manager, {
    method: request.method,
    path: new URL(request.url).pathname,
    cookieHeader: request.headers.get('cookie'),
    header: (name) => request.headers.get(name),
    context: options.context,
  });
  if (!answer) return null;
  const headers = new Headers(answer.headers);
  for (const cookie of answer.cookies) headers.append('set-cookie', serializeCookie(cookie));
  return new Response(answer.body, { status: answer.status, headers });
}
