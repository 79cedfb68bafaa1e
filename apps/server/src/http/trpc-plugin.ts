/**
 * Mounts the API at /trpc inside its own Fastify scope, so that its hooks and content-type parsers
 * apply to it alone:
 *  onRequest  the edge guard (guard.ts), then the coarse per-IP request limit (@fastify/rate-limit);
 *  handler    tRPC's Fastify adapter: createContext (context.ts) validates the session once;
 *  onSend     the ONE place that writes what the request queued: Set-Cookie (session-core's
 *             serializeCookie), extra headers (Retry-After), and Cache-Control: no-store.
 */
import rateLimit from '@fastify/rate-limit';
import { serializeCookie } from '@tessera/session-core';
import { type FastifyTRPCPluginOptions, fastifyTRPCPlugin } from '@trpc/server/adapters/fastify';
import type { FastifyInstance } from 'fastify';
import { contextFactory, newResponseState } from '../context.js';
import type { AppDeps } from '../deps.js';
import { isUnavailable } from '../errors.js';
import { type AppRouter, appRouter } from '../routers/index.js';
import { requestGuard } from './guard.js';

export async function trpcPlugin(
  scope: FastifyInstance,
  opts: { deps: AppDeps; closing: AbortSignal },
): Promise<void> {
  const { deps } = opts;
  const { config, log } = deps;

  scope.decorateRequest('tessera', null as never);
  scope.addHook('onRequest', async (req) => {
    req.tessera = newResponseState();
  });
  scope.addHook('onRequest', requestGuard(config.appOrigin));

  await scope.register(rateLimit, {
    global: true,
    max: config.rateLimit.requestsPerMinute,
    timeWindow: 60_000,
    // Availability first for this coarse guard: the credential limits (security/throttle.ts) fail closed.
    skipOnError: true,
    ...(deps.redis ? { redis: deps.redis, nameSpace: 'tessera:rlq:' } : {}),
    errorResponseBuilder: (_req, context) => ({
      statusCode: 429,
      error: {
        message: `Too many requests. Try again in ${context.after}.`,
        code: -32029,
        data: { code: 'TOO_MANY_REQUESTS', httpStatus: 429 },
      },
    }),
  });

  scope.addHook('onSend', async (req, reply, payload) => {
    reply.header('cache-control', 'no-store');
    const state = req.tessera;
    if (state) {
      if (state.cookies.size > 0)
        reply.header('set-cookie', [...state.cookies.values()].map(serializeCookie));
      for (const [name, value] of state.headers) reply.header(name, value);
    }
    return payload;
  });

  await scope.register(fastifyTRPCPlugin, {
    trpcOptions: {
      router: appRouter,
      createContext: contextFactory(deps, opts.closing),
      onError({ error, path, type }) {
        // Never log `input` (passwords, codes) or the context (tokens).
        if (isUnavailable(error.cause) || error.code === 'SERVICE_UNAVAILABLE') {
          log.warn({ err: error.cause ?? error, path, type }, 'dependency unavailable');
        } else if (error.code === 'INTERNAL_SERVER_ERROR') {
          log.error({ err: error.cause ?? error, path, type }, 'procedure failed');
        }
      },
    } satisfies FastifyTRPCPluginOptions<AppRouter>['trpcOptions'],
  });
}
