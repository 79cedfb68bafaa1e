/**
 * The edge guard for /trpc, run before any body parsing or procedure (a Fastify onRequest hook).
 * tRPC itself accepts mutations as JSON, multipart/form-data and octet-stream, and a browser can send
 * the latter two (and text/plain) cross-site without a preflight. So (OWASP CSRF Prevention Cheat
 * Sheet: "Fetch Metadata", "Verifying Origin with standard headers"; ASVS 5.0 V3.5):
 *  - a POST must come from our origin: `Sec-Fetch-Site: same-origin`, or, from a client that sends no
 *    fetch metadata, an `Origin` equal to APP_ORIGIN. Anything else: 403.
 *  - a POST must be `Content-Type: application/json` (a CORS-unsafe type a cross-site form can't
 *    send): 415 otherwise.
 *  - GET (queries, subscriptions) marked `Sec-Fetch-Site: cross-site` is refused (403): no other site
 *    gets to read or ping our API with the user's cookie. Other methods: 405.
 * Refusals have tRPC's error shape so clients report them like any other error.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';

const JSONRPC = { FORBIDDEN: -32003, METHOD_NOT_SUPPORTED: -32005, UNSUPPORTED_MEDIA_TYPE: -32015 } as const;

function refuse(reply: FastifyReply, status: number, code: keyof typeof JSONRPC, message: string) {
  return reply
    .code(status)
    .header('content-type', 'application/json')
    .send(JSON.stringify({ error: { message, code: JSONRPC[code], data: { code, httpStatus: status } } }));
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

/** Returns the reply it sent when it refuses the request, undefined when the request may go on. */
export function requestGuard(appOrigin: string) {
  return function guard(req: FastifyRequest, reply: FastifyReply): FastifyReply | undefined {
    if (req.method === 'GET' || req.method === 'HEAD') {
      if (header(req, 'sec-fetch-site') === 'cross-site') {
        return refuse(reply, 403, 'FORBIDDEN', 'Cross-site requests to the API are refused.');
      }
      return;
    }
    if (req.method !== 'POST') {
      reply.header('allow', 'GET, POST');
      return refuse(reply, 405, 'METHOD_NOT_SUPPORTED', `${req.method} is not supported here.`);
    }
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
    return undefined;
  };
}
