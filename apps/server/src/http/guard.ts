/**
 * The edge guard for /trpc, run before any body parsing or procedure (a Fastify onRequest hook).
 * tRPC itself accepts mutations as JSON, multipart/form-data and octet-stream, and a browser can send
 * the latter two (and text/plain) cross-site without a preflight. So (OWASP CSRF Prevention Cheat
 * Sheet: "Fetch Metadata", "Verifying Origin with standard headers"; ASVS 5.0 V3.5):
 *  - a POST must come from our origin: `Sec-Fetch-Site: same-origin`, or, from a client that sends no
 *    fetch metadata, an `Origin` equal to APP_ORIGIN. Anything else: 403.
 *  - a POST must be `Content-Type: application/json` (a CORS-unsafe type a cross-site form can't
 *    send): 415 otherwise.
 *  - a GET or HEAD (queries, the session-ended stream) must be `Sec-Fetch-Site: same-origin` or carry
 *    no fetch metadata (curl, scripts, browsers too old to send it): `same-site` (a sibling subdomain,
 *    which could otherwise read the API or keep a victim's idle session alive with their cookie),
 *    `cross-site` and `none` (a typed URL or a bookmark: the SPA never does that) are 403.
 *    Other methods: 405.
 *  - a streamed batch (`trpc-accept: application/jsonl`, or `Accept` listing it: tRPC's
 *    httpBatchStreamLink) is refused (400): a streamed response sends its head before the procedures
 *    run, so a Set-Cookie they queue (sign-in, rotation, logout) could never reach the client. The SPA
 *    uses httpBatchLink.
 * Refusals have tRPC's error shape so clients report them like any other error.
 */
import { TRPC_ERROR_CODES_BY_KEY } from '@trpc/server/rpc';
import type { FastifyReply, FastifyRequest } from 'fastify';

type TrpcErrorCode = keyof typeof TRPC_ERROR_CODES_BY_KEY;

/** Sends a tRPC-shaped error (`extra` joins `data`); returns the reply for an onRequest hook to return. */
export function refuse(
  reply: FastifyReply,
  status: number,
  code: TrpcErrorCode,
  message: string,
  extra: Record<string, unknown> = {},
) {
  return reply
    .code(status)
    .header('content-type', 'application/json')
    .send(
      JSON.stringify({
        error: { message, code: TRPC_ERROR_CODES_BY_KEY[code], data: { code, httpStatus: status, ...extra } },
      }),
    );
}

const header = (req: FastifyRequest, name: string): string | undefined => {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
};

export function isSameOrigin(req: FastifyRequest, appOrigin: string): boolean {
  const site = header(req, 'sec-fetch-site');
  if (site !== undefined) return site === 'same-origin';
  return header(req, 'origin') === appOrigin;
}

/** Whether tRPC would stream this request's batch as JSONL (its getAcceptHeader, read loosely). */
function asksForStream(req: FastifyRequest): boolean {
  const JSONL = 'application/jsonl';
  return header(req, 'trpc-accept') === JSONL || (header(req, 'accept')?.includes(JSONL) ?? false);
}

/** Returns the reply it sent when it refuses the request, undefined when the request may go on. */
export function requestGuard(appOrigin: string) {
  return function guard(req: FastifyRequest, reply: FastifyReply): FastifyReply | undefined {
    if (req.method === 'GET' || req.method === 'HEAD') {
      const site = header(req, 'sec-fetch-site');
      if (site !== undefined && site !== 'same-origin') {
        return refuse(reply, 403, 'FORBIDDEN', 'Requests to the API must come from the app itself.');
      }
    } else if (req.method !== 'POST') {
      reply.header('allow', 'GET, POST');
      return refuse(reply, 405, 'METHOD_NOT_SUPPORTED', `${req.method} is not supported here.`);
    } else {
      if (!isSameOrigin(req, appOrigin)) {
        return refuse(
          reply,
          403,
          'FORBIDDEN',
          'Cross-origin request refused: mutations must come from the app.',
        );
      }
      const type = header(req, 'content-type')?.split(';')[0]?.trim().toLowerCase();
      if (type !== 'application/json') {
        return refuse(
          reply,
          415,
          'UNSUPPORTED_MEDIA_TYPE',
          'Mutations must be sent as Content-Type: application/json.',
        );
      }
    }
    if (asksForStream(req)) {
      return refuse(
        reply,
        400,
        'BAD_REQUEST',
        'Streamed (application/jsonl) responses are not served: use httpBatchLink.',
      );
    }
    return undefined;
  };
}
