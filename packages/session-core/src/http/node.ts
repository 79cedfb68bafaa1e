/**
 * `@tessera/session-core/node`: sessions over Node's `IncomingMessage`/`ServerResponse`, for Express 5,
 * Connect, Fastify's raw request and plain `node:http`. No framework dependency.
 *
 * ```ts
 * const s = await getSession(sessions, req); // throws SessionStoreError when the store is down: 503
 * writeCookie(res, s.setCookie); // rotated, or clearing a dead cookie; nothing when null
 * if (!s.session) return res.writeHead(401).end(JSON.stringify({ reason: s.reason }));
 * ```
 */
import type { IncomingHttpHeaders, OutgoingHttpHeader } from 'node:http';
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

/** The bit of a `ServerResponse` (or Express `res`) `writeCookie` uses. */
export interface ResponseLike {
  getHeader(name: string): OutgoingHttpHeader | undefined;
  setHeader(name: string, value: OutgoingHttpHeader): unknown;
}

/**
 * Reads the session cookie of `req` and validates it: one store round trip that checks both deadlines
 * and slides the idle one. Resolves to `{ session, reason, token, setCookie }`; "no session" is a value
 * (`session: null` and a `reason`: `missing`, `duplicate`, `malformed`, `idle_timeout`, `revoked`, ...).
 * Pass `setCookie` to `writeCookie(res, ...)`.
 * @throws SessionStoreError when the store can't answer: answer 503, never treat it as signed out.
 */
export function getSession<TData extends object = SessionData>(
  manager: SessionReader<TData>,
  req: { headers: IncomingHttpHeaders },
  options?: GetSessionOptions,
): Promise<SessionLookup<TData>> {
  // Node joins repeated Cookie headers with '; ' (RFC 6265 5.4), so this is the whole jar.
  return lookupSession(manager, req.headers.cookie, options);
}

/**
 * Adds a `Set-Cookie` to the response (a `SessionCookie` from `create`/`rotate`/logout, or a `setCookie`
 * string from `getSession`), keeping the other cookies it sets: a bare `res.setHeader('set-cookie', x)`
 * would drop them. Replaces one already set for the same cookie, so a logout after a rotation sends one
 * clearing cookie, not two (RFC 6265 4.1.1). Does nothing for null. Call it before the headers are sent.
 */
export function writeCookie(res: ResponseLike, cookie: SessionCookie | string | null | undefined): void {
  if (!cookie) return;
  const { line, name } = setCookieLine(cookie);
  const current = res.getHeader('set-cookie');
  const existing = current === undefined ? [] : Array.isArray(current) ? current : [String(current)];
  res.setHeader('set-cookie', [...withoutCookie(existing, name), line]);
}

/** The bits of a `ServerResponse` (or Express `res`) `handleDeviceBinding` writes through. */
export interface WritableResponseLike extends ResponseLike {
  statusCode: number;
  end(body?: string): unknown;
}

/**
 * Answers the DBSC endpoints (`POST /dbsc/register`, `POST /dbsc/refresh` by default) when device
 * binding is on and resolves to true; false for any other request, which the app then handles:
 *
 * ```ts
 * app.use(async (req, res, next) => ((await handleDeviceBinding(sessions, req, res)) ? undefined : next()));
 * ```
 * @throws SessionStoreError when the store can't answer: answer 503 (the browser retries later).
 */
export async function handleDeviceBinding(
  manager: Pick<SessionReader<object>, 'cookieName' | 'deviceBinding'>,
  req: { method?: string; url?: string; headers: IncomingHttpHeaders },
  res: WritableResponseLike,
  /** `context`: handed back on the events the call emits (who asked, from where: for an audit log). */
  options: { context?: unknown } = {},
): Promise<boolean> {
  if (!manager.deviceBinding) return false;
  const url = req.url ?? '/';
  const query = url.indexOf('?');
  const single = (name: string) => {
    const value = req.headers[name];
    // A repeated DBSC header is refused as malformed, never guessed: join it so the parser sees a comma.
    return Array.isArray(value) ? value.join(', ') : value;
  };
  const answer = await answerDeviceRequest(manager, {
    method: req.method ?? 'GET',
    path: query === -1 ? url : url.slice(0, query),
    cookieHeader: req.headers.cookie,
    header: single,
    context: options.context,
  });
  if (!answer) return false;
  res.statusCode = answer.status;
  for (const [name, value] of Object.entries(answer.headers)) res.setHeader(name, value);
  for (const cookie of answer.cookies) writeCookie(res, cookie);
  res.end(answer.body ?? undefined);
  return true;
}
