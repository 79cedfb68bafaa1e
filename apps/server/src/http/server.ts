/**
 * `createServer({ deps, readiness })` builds the Fastify app around already-composed dependencies and returns
 * `{ app, start, stop }`: main.ts and the tests share it. It opens no connection itself (compose.ts
 * does) and `stop` closes only the HTTP server.
 */
import helmet from '@fastify/helmet';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Config } from '../env.js';
import { QuietRequestLog } from '../logger.js';
import type { AppDeps } from '../trpc/deps.js';
import { appRouter } from '../trpc/routers/index.js';
import { batchPathLength } from './batch-limit.js';
import { dbscPlugin } from './dbsc-route.js';
import { staticPlugin } from './static.js';
import { trpcPlugin } from './trpc-plugin.js';

export interface TesseraServer {
  app: FastifyInstance;
  /** Listens (on the configured port/host unless given) and returns the base URL. */
  start(options?: { port?: number; host?: string }): Promise<string>;
  stop(): Promise<void>;
}

const READY_CHECK_TIMEOUT_MS = 2_000;

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * TRUST_PROXY for Fastify. A hop count n means "the n nearest hops are our proxies": the client is
 * the address the n-th proxy saw. Fastify 5.12 fails closed on a numeric trustProxy (it trusts no
 * hop), which would put every client behind the proxies on one address and one per-IP budget, so the
 * count is passed as the equivalent trust function (test/security/rate-limit-spoofing.test.ts).
 */
export function trustProxyOption(
  value: Config['trustProxy'],
): boolean | string[] | ((address: string, hop: number) => boolean) {
  if (typeof value !== 'number') return value;
  return (_address, hop) => hop < value;
}

export function createServer({
  deps,
  readiness,
}: {
  deps: AppDeps;
  /** Named checks for /readyz; each throws when its dependency can't answer. */
  readiness: Record<string, () => Promise<void>>;
}): TesseraServer {
  const { config } = deps;
  const app = Fastify({
    loggerInstance: deps.log as FastifyBaseLogger,
    trustProxy: trustProxyOption(config.trustProxy),
    // The only route parameter is /trpc's procedure path: no longer than a bounded batch of the
    // longest procedure needs (http/batch-limit.ts); a longer one is the router's 414, before any hook.
    routerOptions: { maxParamLength: batchPathLength(Object.keys(appRouter._def.procedures)) },
    // tRPC inputs here are small; anything bigger is refused (413) before parsing.
    bodyLimit: 64 * 1024,
    // Don't let clients choose request ids that end up in our logs.
    requestIdHeader: false,
    return503OnClosing: true,
    // No per-request log lines; errors, 5xx and slow requests only (logger.ts).
    logController: new QuietRequestLog(deps.log.level === 'debug' || deps.log.level === 'trace'),
  });

  // Subscriptions (server-sent events) would hold close() open: end them first.
  const closing = new AbortController();
  app.addHook('preClose', async () => closing.abort());
  app.register(trpcPlugin, { prefix: '/trpc', deps, closing: closing.signal });
  // The DBSC endpoints the browser posts to (when device binding is on), in a scope of their own.
  app.register(dbscPlugin, { deps });

  // The site (SPA, health, the fallback text) in its own scope with helmet. helmet builds its headers
  // per request; the /trpc scope sends a fixed set built once (http/trpc-plugin.ts), and keeping
  // helmet's two hooks off that path saves them on every API call.
  app.register(async (site) => {
    site.register(helmet, {
      // A strict CSP for the SPA served from this origin (no inline script, no third parties).
      contentSecurityPolicy: {
        useDefaults: false,
        directives: {
          defaultSrc: ["'self'"],
          scriptSrc: ["'self'"],
          styleSrc: ["'self'"],
          imgSrc: ["'self'", 'data:'],
          fontSrc: ["'self'"],
          connectSrc: ["'self'"],
          objectSrc: ["'none'"],
          baseUri: ["'none'"],
          formAction: ["'self'"],
          frameAncestors: ["'none'"],
          ...(config.cookieSecure && config.appOrigin.startsWith('https:')
            ? { upgradeInsecureRequests: [] }
            : {}),
        },
      },
      crossOriginEmbedderPolicy: false,
      crossOriginOpenerPolicy: { policy: 'same-origin' },
      crossOriginResourcePolicy: { policy: 'same-origin' },
      referrerPolicy: { policy: 'no-referrer' },
      // HSTS only makes sense when the app is served over https.
      strictTransportSecurity: config.appOrigin.startsWith('https:')
        ? { maxAge: 31_536_000, includeSubDomains: true }
        : false,
    });

    site.get('/healthz', async (_req, reply) => {
      reply.header('cache-control', 'no-store');
      return { status: 'ok' };
    });

    site.get('/readyz', async (_req, reply) => {
      reply.header('cache-control', 'no-store');
      const entries = await Promise.all(
        Object.entries(readiness).map(async ([name, check]) => {
          try {
            await withTimeout(check(), READY_CHECK_TIMEOUT_MS);
            return [name, 'ok'] as const;
          } catch (error) {
            deps.log.warn({ err: error, check: name }, 'readiness check failed');
            return [name, 'unavailable'] as const;
          }
        }),
      );
      const ready = entries.every(([, state]) => state === 'ok');
      reply.code(ready ? 200 : 503);
      return { status: ready ? 'ready' : 'unavailable', checks: Object.fromEntries(entries) };
    });

    if (config.webDistDir && config.nodeEnv === 'production') {
      site.register(staticPlugin, { root: config.webDistDir });
    } else {
      site.get('/', async (_req, reply) => {
        reply.header('content-type', 'text/plain; charset=utf-8');
        return [
          'Tessera server is running.',
          'API: /trpc (tRPC over HTTP). Health: /healthz, /readyz.',
          config.webDistDir
            ? 'The web app is served here in production mode (NODE_ENV=production).'
            : 'The web app is not built (no apps/web/dist); build it to have it served here.',
          '',
        ].join('\n');
      });
    }
  });

  return {
    app,
    async start(options = {}) {
      await app.listen({ port: options.port ?? config.port, host: options.host ?? config.host });
      const address = app.server.address();
      const port = typeof address === 'object' && address ? address.port : config.port;
      const host = options.host ?? config.host;
      const shown =
        host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host;
      return `http://${shown}:${port}`;
    },
    async stop() {
      await app.close();
    },
  };
}
