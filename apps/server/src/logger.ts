/**
 * pino, configured so that logs never carry a secret (OWASP Logging Cheat Sheet; ASVS 5.0 V16.2.5):
 * requests are logged as method + path (no query string: a misdirected GET could carry input there),
 * and the usual carriers of secrets are redacted wherever they appear. Sessions are logged by their
 * public id only.
 */
import { type FastifyReply, type FastifyRequest, LogController } from 'fastify';
import { type DestinationStream, type Logger, pino } from 'pino';
import type { Config } from './env.js';

export const REDACT_PATHS = [
  'req.headers.cookie',
  'req.headers.authorization',
  'req.headers["set-cookie"]',
  'res.headers["set-cookie"]',
  'headers.cookie',
  'headers.authorization',
  'password',
  'currentPassword',
  'newPassword',
  'token',
  'ticket',
  'code',
  'secret',
  '*.password',
  '*.currentPassword',
  '*.newPassword',
  '*.token',
  '*.ticket',
  '*.secret',
];

const pathOnly = (url: string | undefined) => (url ?? '').split('?')[0];

export function createLogger(config: Pick<Config, 'logLevel'>, destination?: DestinationStream): Logger {
  const options = {
    level: config.logLevel,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    serializers: {
      req: (req: { method?: string; url?: string; ip?: string; id?: string }) => ({
        id: req.id,
        method: req.method,
        url: pathOnly(req.url),
        ip: req.ip,
      }),
      res: (res: { statusCode?: number }) => ({ statusCode: res.statusCode }),
      err: pino.stdSerializers.err,
    },
  };
  return pino(options, destination ?? stdout());
}

let guarded = false;

/**
 * Logs go to process.stdout rather than pino's default sonic-boom on fd 1: when the reader of our
 * stdout goes away (EPIPE), sonic-boom's exit-time flushSync retries forever and wedges the process
 * (seen with sonic-boom 4.2), while a Node stream reports an error event, which we drop.
 */
function stdout(): DestinationStream {
  if (!guarded) {
    guarded = true;
    process.stdout.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE') throw error;
    });
  }
  return process.stdout;
}

/** A request slower than this gets a log line of its own (`slow request`). */
export const SLOW_REQUEST_MS = 1_000;

/**
 * Fastify's request logging, minus the two lines it writes for every request ("incoming request",
 * "request completed"): each costs a pino write with redaction on every request (docs/PERFORMANCE.md
 * has the figure). What is kept: requests that errored or answered 5xx, and slow ones; Fastify's
 * own error lines (defaultErrorLog and the rest) are unchanged, and session events keep their own
 * lines (compose.ts). Equivalent to `disableRequestLogging: true` plus an error/slow-request line (that
 * top-level option is deprecated in Fastify 5.12 in favour of a logController). At LOG_LEVEL=debug or
 * trace every request is logged as before, at debug.
 */
export class QuietRequestLog extends LogController {
  /** With `verbose` (the logger at debug or trace) every request is logged too, at debug. */
  constructor(private readonly verbose = false) {
    super();
  }

  override incomingRequest(request: FastifyRequest): void {
    if (this.verbose) request.log.debug({ req: request }, 'incoming request');
  }

  override requestCompleted(
    error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    if (this.verbose && !error) {
      reply.log.debug({ res: reply, responseTime: reply.elapsedTime }, 'request completed');
    }
    if (error) {
      reply.log.error(
        { req: request, res: reply, err: error, responseTime: reply.elapsedTime },
        'request errored',
      );
    } else if (reply.statusCode >= 500) {
      reply.log.warn({ req: request, res: reply, responseTime: reply.elapsedTime }, 'request failed');
    } else {
      const elapsed = reply.elapsedTime;
      if (elapsed > SLOW_REQUEST_MS) {
        reply.log.warn({ req: request, res: reply, responseTime: elapsed }, 'slow request');
      }
    }
  }
}
