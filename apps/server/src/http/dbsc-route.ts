/**
 * The two DBSC endpoints (device-bound sessions, docs/DBSC.md §4.5-§4.7): the registration path and
 * the refresh path of session-core's `deviceBinding` (`/dbsc/register`, `/dbsc/refresh`). The
 * browser itself calls them, not the SPA: an empty POST with the proof in a header, which fits
 * neither tRPC's framing nor the /trpc guard's `Content-Type: application/json` rule, hence plain
 * Fastify routes in a scope of their own. session-core answers as data (status, headers, cookies,
 * body); this file is the edge around it:
 *  - every method reaches the route; anything but POST is 405 (`Allow: POST`);
 *  - `Sec-Fetch-Site`, when sent, must be `same-origin` (400 `cross_site`), and `Origin`, when sent,
 *    must be APP_ORIGIN (400 `cross_origin`): only the app's own pages may drive a refresh (the
 *    spec's login-state timing channel). A request with neither passes: older Chromium sends no
 *    Origin on these. No CORS headers, ever;
 *  - the request limit, as on /trpc: 429 with Retry-After (to the browser: transient);
 *  - a store that can't answer: 503 with Retry-After (transient: the browser backs off and retries),
 *    never `continue: false`, which would end the browser's bound session because of an outage;
 *  - every answer `Cache-Control: no-store` and the API's fixed security headers (CSP
 *    `default-src 'none'; frame-ancestors 'none'`, CORP same-origin: trpc-plugin.ts);
 *  - outcome and reason go to the debug log and the metrics, never a token, a cookie or a proof.
 */
import { serializeCookie } from '@tessera/session-core';
import { answerDeviceRequest, type DeviceAnswer } from '@tessera/session-core/node';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isUnavailable } from '../infra/unavailable.js';
import { clientKey } from '../limits/client-key.js';
import type { AppDeps } from '../trpc/deps.js';
import { apiSecurityHeaders } from './trpc-plugin.js';

type Endpoint = 'register' | 'refresh';

/** What a 503 asks the browser to wait: its own backoff decides, this is the floor. */
const STORE_RETRY_AFTER_SECONDS = 5;
/** Chromium posts nothing; a body is read (bounded) and ignored. */
const MAX_BODY_BYTES = 1024;

const JSON_TYPE = 'application/json';

/** One value of a request header: a repeated one is joined, so session-core refuses it (a comma). */
function header(req: FastifyRequest, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

/** Mounts the endpoints when device binding is on (DBSC, env.ts); registers nothing when it is off. */
export async function dbscPlugin(scope: FastifyInstance, opts: { deps: AppDeps }): Promise<void> {
  const { deps } = opts;
  const { config, log, metrics, requestLimit, sessions } = deps;
  const found = sessions.deviceBinding;
  if (!found) return;
  const paths = { register: found.registrationPath, refresh: found.refreshPath };

  // Whatever body comes, and whatever its type, is dropped unparsed (a bad JSON body must not turn
  // into a 400 from a parser this route never needed).
  scope.removeAllContentTypeParsers();
  scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: MAX_BODY_BYTES }, (_req, _body, done) =>
    done(null, undefined),
  );

  const fixedHeaders = { ...apiSecurityHeaders(config.appOrigin), 'cache-control': 'no-store' };
  scope.addHook('onSend', async (_req, reply, payload) => {
    reply.headers(fixedHeaders);
    return payload;
  });

  const plain = (reply: FastifyReply, status: number, error: string, retryAfter: number) =>
    reply
      .code(status)
      .header('retry-after', String(retryAfter))
      .header('content-type', JSON_TYPE)
      .send(JSON.stringify({ error }));

  /** The answer of the edge (a refusal) or of session-core; null when the reply was sent here (429, 503). */
  async function answer(
    endpoint: Endpoint,
    req: FastifyRequest,
    reply: FastifyReply,
  ): Promise<DeviceAnswer | null> {
    // Method (405) and Sec-Fetch-Site (400 cross_site) are session-core's checks; Origin is ours,
    // since only the server knows APP_ORIGIN.
    const origin = header(req, 'origin');
    if (req.method === 'POST' && origin !== undefined && origin !== config.appOrigin)
      return {
        status: 400,
        headers: { 'Cache-Control': 'no-store', 'Content-Type': JSON_TYPE },
        cookies: [],
        body: JSON.stringify({ error: 'cross_origin' }),
        outcome: 'refused',
        reason: 'cross_origin',
      };

    const hit = requestLimit.hit(clientKey(req.ip), Date.now());
    if (!hit.allowed) {
      metrics.requestLimited();
      plain(reply, 429, 'rate_limited', Math.max(1, Math.ceil(hit.retryAfterMs / 1000)));
      return null;
    }

    // Where the request came from, for the audit rows its events make (compose.ts, actingOf). Who
    // sent it is unknown: whoever holds the cookie, hence not an actor of its own.
    const context = {
      kind: 'system',
      ip: req.ip,
      userAgent: header(req, 'user-agent')?.slice(0, 512) ?? null,
    };
    try {
      const answered = await answerDeviceRequest(sessions, {
        method: req.method,
        path: paths[endpoint],
        cookieHeader: req.headers.cookie,
        header: (name) => header(req, name),
        context,
      });
      // Only these two paths are routed here, and only with device binding on.
      if (!answered) throw new Error(`DBSC ${endpoint}: no answer for its own path`);
      return answered;
    } catch (error) {
      if (!isUnavailable(error)) throw error;
      metrics.storeError();
      log.warn({ err: error, endpoint }, 'dependency unavailable');
      plain(reply, 503, 'unavailable', STORE_RETRY_AFTER_SECONDS);
      return null;
    }
  }

  const route = (endpoint: Endpoint) => async (req: FastifyRequest, reply: FastifyReply) => {
    const result = await answer(endpoint, req, reply);
    if (result === null) return reply;
    metrics.deviceAnswer(endpoint, result.outcome, result.reason);
    log.debug(
      { dbsc: endpoint, status: result.status, outcome: result.outcome, reason: result.reason },
      `dbsc ${endpoint}: ${result.outcome}`,
    );
    reply.code(result.status);
    for (const [name, value] of Object.entries(result.headers)) reply.header(name, value);
    if (result.cookies.length > 0) reply.header('set-cookie', result.cookies.map(serializeCookie));
    return reply.send(result.body ?? '');
  };

  scope.all(paths.register, route('register'));
  scope.all(paths.refresh, route('refresh'));
}
