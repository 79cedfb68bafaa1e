/**
 * The Prometheus listener (METRICS_PORT on METRICS_HOST): GET /metrics and nothing else. A listener
 * of its own, never a route on the public app: the counts say how many sign-ins fail and which limits
 * trip, which is for operators, and a scraper must not go through the public app's origin check and
 * request limit. Plain node:http: one route needs none of Fastify's hooks, and the public app's
 * plugins (helmet, tRPC) stay out of it.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';

export interface MetricsServer {
  /** http://host:port/metrics */
  url: string;
  close(): Promise<void>;
}

export interface MetricsServerOptions {
  registry: Registry;
  /** 0: any free port (tests); `url` says which. */
  port: number;
  /** METRICS_HOST; 127.0.0.1 keeps it to scrapers on the same host. */
  host: string;
  log: Pick<Logger, 'warn'>;
}

export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const { registry, log } = options;

  const send = (res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}) => {
    res.writeHead(status, {
      'content-type': 'text/plain; charset=utf-8',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      ...headers,
    });
    res.end(body);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') return send(res, 404, 'Not found. Metrics are at /metrics.\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return send(res, 405, 'Method not allowed.\n', { allow: 'GET, HEAD' });
    }
    let text: string;
    try {
      text = await registry.metrics();
    } catch (error) {
      log.warn({ err: error }, 'metrics: collecting failed');
      return send(res, 500, 'Could not collect metrics.\n');
    }
    // HEAD: node:http sends the headers and drops the body.
    send(res, 200, text, { 'content-type': registry.contentType });
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      log.warn({ err: error }, 'metrics: request failed');
      if (!res.headersSent) send(res, 500, 'Internal error.\n');
      else res.destroy();
    });
  });
  // A scraper that connects and says nothing must not hold a socket open.
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (error) => log.warn({ err: error }, 'metrics: listener error'));

  const { port } = server.address() as AddressInfo;
  const hostPart = options.host.includes(':') ? `[${options.host}]` : options.host;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${hostPart}:${port}/metrics`,
    close() {
      closing ??= new Promise<void>((resolve) => {
        // Prometheus keeps its connection alive between scrapes: don't wait for it to hang up. A
        // scrape in flight gets a moment to finish, then its socket is cut too.
        const force = setTimeout(() => server.closeAllConnections(), 2_000);
        force.unref();
        server.close(() => {
          clearTimeout(force);
          resolve();
        });
        server.closeIdleConnections();
      });
      return closing;
    },
  };
}
