/**
 * pino, configured so that logs never carry a secret (OWASP Logging Cheat Sheet; ASVS 5.0 V16.2.5):
 * requests are logged as method + path (no query string: a misdirected GET could carry input there),
 * and the usual carriers of secrets are redacted wherever they appear. Sessions are logged by their
 * public id only.
 */
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
