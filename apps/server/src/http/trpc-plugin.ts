/**
 * Mounts the API at /trpc inside its own Fastify scope, so that its hooks and content-type parsers
 * apply to it alone:
 *  onRequest  the edge guard (guard.ts), the batch bound (batch-limit.ts: more calls than
 *             MAX_BATCH_CALLS is a 413), then the coarse per-IP request limit, one unit per call
 *             (decided in this process's memory, shared through Redis off the request path:
 *             limits/request-limit.ts);
 *  handler    tRPC's resolveResponse behind a thin Fastify route (trpc-route.ts), which owns the
 *             request: createContext (trpc/context.ts) validates the session once, and the route
 *             writes the cookies and headers the request queued;
 *  onSend     Cache-Control: no-store and the fixed security headers of a JSON API on every answer
 *             of this scope, refusals included (apiSecurityHeaders, built once; helmet, which builds
 *             its headers per request, runs only in the site's scope: server.ts).
 */
import type { FastifyInstance } from 'fastify';
import { clientKey } from '../limits/client-key.js';
import { contextFactory } from '../trpc/context.js';
import type { AppDeps } from '../trpc/deps.js';
import { logFailure } from '../trpc/errors.js';
import { appRouter } from '../trpc/routers/index.js';
import { batchPathLength, callsIn, MAX_BATCH_CALLS } from './batch-limit.js';
import { refuse, requestGuard } from './guard.js';
import { registerTrpcRoute } from './trpc-route.js';

/**
 * The security headers of every /trpc response (OWASP REST Security Cheat Sheet, "Security headers"):
 * JSON is never a document, so the CSP allows nothing and no framing; no sniffing, no referrer, no
 * cross-origin reads or openers. HSTS when the app is served over https. Fixed per process.
 */
export function apiSecurityHeaders(appOrigin: string): Record<string, string> {
  return {
    'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-resource-policy': 'same-origin',
    'referrer-policy': 'no-referrer',
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    ...(appOrigin.startsWith('https:')
      ? { 'strict-transport-security': 'max-age=31536000; includeSubDomains' }
      : {}),
  };
}

export async function trpcPlugin(
  scope: FastifyInstance,
  opts: { deps: AppDeps; closing: AbortSignal },
): Promise<void> {
  const { deps } = opts;
  const { config, log, requestLimit } = deps;

  const guard = requestGuard(config.appOrigin);
  // One hook, not three: each async hook is a promise and a turn of Fastify's hook runner per request.
  scope.addHook('onRequest', async (req, reply) => {
    const refused = guard(req, reply);
    if (refused) return refused;
    const calls = callsIn((req.params as { path?: string }).path);
    if (calls > MAX_BATCH_CALLS) {
      return refuse(reply, 413, 'PAYLOAD_TOO_LARGE', `A batch holds at most ${MAX_BATCH_CALLS} calls.`);
    }
    const hit = requestLimit.hit(clientKey(req.ip), Date.now(), calls);
    if (hit.allowed) return;
    deps.metrics.requestLimited();
    const seconds = Math.max(1, Math.ceil(hit.retryAfterMs / 1000));
    reply.header('retry-after', String(seconds));
    return refuse(reply, 429, 'TOO_MANY_REQUESTS', `Too many requests. Try again in ${seconds} seconds.`, {
      retryAfter: seconds,
    });
  });

  const fixedHeaders = { ...apiSecurityHeaders(config.appOrigin), 'cache-control': 'no-store' };
  scope.addHook('onSend', async (_req, reply, payload) => {
    reply.headers(fixedHeaders);
    return payload;
  });

  // A /trpc path the route below can't take: longer than a bounded batch of the longest procedure
  // needs (the router skips a parameter past maxParamLength, and the site's catch-all would then
  // answer it as a page), or with a slash in it. Refused here, after the hook above, with the same
  // answer whether or not the SPA is served.
  const longestPath = batchPathLength(Object.keys(appRouter._def.procedures));
  scope.all('/*', async (req, reply) => {
    const path = (req.params as { '*'?: string })['*'] ?? '';
    return path.length > longestPath
      ? refuse(reply, 413, 'PAYLOAD_TOO_LARGE', `A batch holds at most ${MAX_BATCH_CALLS} calls.`)
      : refuse(reply, 404, 'NOT_FOUND', 'No such procedure.');
  });

  registerTrpcRoute(scope, {
    router: appRouter,
    createContext: contextFactory(deps, opts.closing),
    onError: (failure) => logFailure(log, deps.metrics, failure),
  });
}
