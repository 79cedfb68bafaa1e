/**
 * The only file that reads `process.env`. Everything else receives a validated, typed `Config`.
 * Every variable is listed (with its default) in `apps/server/.env.example` and the README.
 */
import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isBindableOrigin, parseDuration } from '@tessera/session-core';
import { z } from 'zod';

export interface Config {
  nodeEnv: 'production' | 'development' | 'test';
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  port: number;
  host: string;
  /** The one origin the SPA is served from; state-changing requests must come from it. */
  appOrigin: string;
  redisUrl: string | null;
  /** `host:port` pairs (or redis:// URLs) of Redis Cluster seed nodes. */
  redisClusterNodes: string[] | null;
  /**
   * Writes that end a session or replace its token wait for this many replicas (Redis WAIT) and fail
   * closed when fewer acknowledge within `timeoutMs`; null: no waiting (REDIS_WAIT_REPLICAS=0).
   */
  redisWaitForReplicas: { replicas: number; timeoutMs: number } | null;
  databaseUrl: string | null;
  /** Connections of the PostgreSQL pool, per instance (N instances open up to N times this many). */
  databasePoolSize: number;
  /** Absolute path of the embedded database directory (used when DATABASE_URL is unset). */
  dataDir: string;
  session: {
    idleTimeoutMs: number;
    absoluteTimeoutMs: number;
    maxPerUser: number;
    limitPolicy: 'evict-oldest' | 'reject';
  };
  cookieSecure: boolean;
  /** Passed to Fastify's `trustProxy`: false, true, a hop count, or a list of addresses/CIDRs. */
  trustProxy: boolean | number | string[];
  freshAuthWindowMs: number;
  rateLimit: {
    windowMs: number;
    /** Credential attempts (login, MFA, re-authentication, password change) per client IP per window. */
    authPerIp: number;
    /** Failed credential attempts per account per window. */
    authPerAccount: number;
    /**
     * /trpc procedure calls (a batch of n counts n) per client IP (IPv6: per /64) per minute: a coarse
     * flood guard, shared across instances through Redis when configured (limits/request-limit.ts).
     */
    requestsPerMinute: number;
  };
  /** argon2id hashes at once; the rest queue (default: one fewer than the cores, at least 1). */
  passwordHashConcurrency: number;
  /**
   * 32-byte keys that encrypt TOTP secrets at rest (TOTP_ENCRYPTION_KEYS): the first encrypts, all
   * decrypt. null: a key generated once into `<dataDir>/secrets/totp.key` (auth/totp-keys.ts).
   */
  totpEncryptionKeys: Buffer[] | null;
  /**
   * Key of the Redis session store's user shard tag (SESSION_TAG_SECRET, >= 32 bytes). null: a secret
   * generated once and kept in the users database (infra/server-secrets.ts).
   */
  sessionTagSecret: Buffer | null;
  /** Built SPA to serve in production; null when the folder does not exist. */
  webDistDir: string | null;
  /** How long audit events are kept (AUDIT_RETENTION, default 90 days); older ones are pruned. */
  auditRetentionMs: number;
  /** Port of the Prometheus listener (METRICS_PORT); null: no metrics listener (the default). */
  metricsPort: number | null;
  /** Address the metrics listener binds (METRICS_HOST, default 127.0.0.1: scrapers on the host). */
  metricsHost: string;
  /**
   * Device-bound sessions (DBSC, docs/DBSC.md): sign-ins offer browsers to bind the session to a key
   * in their hardware, and a bound session then needs a short-lived bound cookie only that key renews.
   * null: off (DBSC=off, or DBSC=auto with an APP_ORIGIN where browsers don't bind).
   */
  deviceBinding: { boundCookieTtlMs: number; challengeTtlMs: number } | null;
}

export class EnvError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`Invalid environment:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'EnvError';
    this.problems = problems;
  }
}

type Source = Record<string, string | undefined>;

const duration = (fallback: string, min = 0) =>
  z
    .string()
    .default(fallback)
    .transform((value, ctx) => {
      try {
        const ms = parseDuration(value);
        if (ms < min) {
          ctx.addIssue({ code: 'custom', message: `must be at least ${min} ms, got '${value}'` });
          return z.NEVER;
        }
        return ms;
      } catch {
        ctx.addIssue({
          code: 'custom',
          message: `'${value}' is not a duration (examples: 30m, 24h, 90s, 500ms)`,
        });
        return z.NEVER;
      }
    });

const integer = (fallback: number, min: number, max: number) =>
  z
    .string()
    .default(String(fallback))
    .transform((value, ctx) => {
      const n = /^\d+$/.test(value.trim()) ? Number(value) : Number.NaN;
      if (!Number.isSafeInteger(n) || n < min || n > max) {
        ctx.addIssue({ code: 'custom', message: `must be an integer from ${min} to ${max}, got '${value}'` });
        return z.NEVER;
      }
      return n;
    });

const boolean = (fallback: boolean) =>
  z
    .string()
    .default(String(fallback))
    .transform((value, ctx) => {
      const v = value.trim().toLowerCase();
      if (['true', '1', 'yes', 'on'].includes(v)) return true;
      if (['false', '0', 'no', 'off'].includes(v)) return false;
      ctx.addIssue({ code: 'custom', message: `must be true or false, got '${value}'` });
      return z.NEVER;
    });

const url = (protocols: string[]) =>
  z
    .string()
    .optional()
    .refine(
      (value) => {
        if (value === undefined) return true;
        try {
          return protocols.includes(new URL(value).protocol);
        } catch {
          return false;
        }
      },
      { message: `must be a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}` },
    );

const trustProxy = z
  .string()
  .default('false')
  .transform((value, ctx): boolean | number | string[] => {
    const v = value.trim();
    if (v === 'false' || v === '0' || v === '') return false;
    if (v === 'true') return true;
    if (/^\d+$/.test(v)) return Number(v);
    const entries = v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    const bad = entries.filter(
      (e) => !['loopback', 'linklocal', 'uniquelocal'].includes(e) && isIP(e.split('/')[0] ?? '') === 0,
    );
    if (bad.length > 0) {
      ctx.addIssue({
        code: 'custom',
        message: `must be false, true, a hop count, or a comma-separated list of IPs/CIDRs (got '${bad.join(', ')}')`,
      });
      return z.NEVER;
    }
    return entries;
  });

/**
 * A 32-byte key written as base64 (standard or url-safe, padding optional) or as 64 hex digits; null
 * when it is neither. Also reads the key file that auth/totp-keys.ts generates.
 */
export function parseKeyText(text: string): Buffer | null {
  const t = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(t)) return Buffer.from(t, 'hex');
  if (!/^[A-Za-z0-9+/_-]{43}=?$/.test(t)) return null;
  const key = Buffer.from(t.replace(/=$/, '').replace(/\+/g, '-').replace(/\//g, '_'), 'base64url');
  return key.length === 32 ? key : null;
}

// A problem names the key by position, never by value: error messages end up in logs.
const keyList = z
  .string()
  .optional()
  .transform((value, ctx): Buffer[] | null => {
    if (value === undefined) return null;
    const texts = value.split(',').map((s) => s.trim());
    const keys: Buffer[] = [];
    texts.forEach((text, i) => {
      const key = parseKeyText(text);
      const which = `key ${i + 1} of ${texts.length}`;
      if (!key) {
        ctx.addIssue({
          code: 'custom',
          message: `${which} is not 32 bytes in base64 or hex (make one with: openssl rand -base64 32)`,
        });
      } else if (keys.some((k) => k.equals(key))) {
        ctx.addIssue({ code: 'custom', message: `${which} is listed twice` });
      } else {
        keys.push(key);
      }
    });
    return keys;
  });

/**
 * A secret of at least 32 bytes written as hex (64+ digits) or base64 (standard or url-safe, padding
 * optional). The problem never quotes the value: error messages end up in logs.
 */
const longSecret = z
  .string()
  .optional()
  .transform((value, ctx): Buffer | null => {
    if (value === undefined) return null;
    // All hex digits in pairs reads as hex (random base64 practically never is).
    const hex = /^(?:[0-9a-fA-F]{2})+$/.test(value);
    const text = hex
      ? value.toLowerCase()
      : value.replace(/=+$/, '').replaceAll('+', '-').replaceAll('/', '_');
    const bytes = hex || /^[A-Za-z0-9_-]+$/.test(text) ? Buffer.from(text, hex ? 'hex' : 'base64url') : null;
    // Re-encoding must give the text back, so a truncated or mistyped value is refused, not shortened.
    const canonical = bytes?.toString(hex ? 'hex' : 'base64url') === text;
    if (!bytes || !canonical || bytes.length < 32) {
      ctx.addIssue({
        code: 'custom',
        message: 'must be at least 32 bytes in hex or base64 (make one with: openssl rand -base64 32)',
      });
      return z.NEVER;
    }
    return bytes;
  });

const schema = z.object({
  NODE_ENV: z.enum(['production', 'development', 'test']).default('production'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  PORT: integer(3000, 0, 65535),
  HOST: z.string().min(1).default('localhost'),
  APP_ORIGIN: url(['http:', 'https:']),
  REDIS_URL: url(['redis:', 'rediss:']),
  REDIS_CLUSTER_NODES: z.string().optional(),
  REDIS_WAIT_REPLICAS: integer(0, 0, 16),
  // WAIT counts against the Redis client's per-command timeout (redis.ts): stay well below it.
  REDIS_WAIT_TIMEOUT_MS: integer(200, 1, 800),
  DATABASE_URL: url(['postgres:', 'postgresql:']),
  DATABASE_POOL_SIZE: integer(10, 1, 1000),
  DATA_DIR: z.string().min(1).default('./.data'),
  SESSION_IDLE_TIMEOUT: duration('30m', 1000),
  SESSION_ABSOLUTE_TIMEOUT: duration('24h', 1000),
  SESSION_MAX_PER_USER: integer(3, 1, 1000),
  SESSION_LIMIT_POLICY: z.enum(['evict-oldest', 'reject']).default('evict-oldest'),
  COOKIE_SECURE: boolean(true),
  TRUST_PROXY: trustProxy,
  FRESH_AUTH_WINDOW: duration('5m', 1000),
  RATE_LIMIT_WINDOW: duration('15m', 1000),
  RATE_LIMIT_AUTH_PER_IP: integer(50, 1, 1_000_000),
  RATE_LIMIT_AUTH_PER_ACCOUNT: integer(10, 1, 1_000_000),
  RATE_LIMIT_REQUESTS_PER_MINUTE: integer(1200, 1, 10_000_000),
  // One core fewer than the machine has: a sign-in storm leaves one to the requests (users/passwords.ts).
  PASSWORD_HASH_CONCURRENCY: integer(Math.max(1, availableParallelism() - 1), 1, 256),
  WEB_DIST_DIR: z.string().optional(),
  SESSION_TAG_SECRET: longSecret,
  TOTP_ENCRYPTION_KEYS: keyList,
  AUDIT_RETENTION: duration('90d', 60_000),
  METRICS_PORT: integer(0, 0, 65535),
  METRICS_HOST: z.string().min(1).default('127.0.0.1'),
  DBSC: z.enum(['auto', 'on', 'off']).default('auto'),
  // At least 2m: Chrome signs at most 6 proofs per 9 minutes per site and skips refreshes past that.
  DBSC_BOUND_COOKIE_TTL: duration('10m', 120_000),
  DBSC_CHALLENGE_TTL: duration('15m', 10_000),
});

/** The variables this server reads, for docs and tests. */
export const ENV_VARIABLES = Object.keys(schema.shape) as (keyof typeof schema.shape)[];

/**
 * Validates an environment-like record into a Config. Empty strings count as unset. Throws EnvError
 * listing every problem at once.
 * @param cwd resolves relative paths (DATA_DIR, WEB_DIST_DIR). Default: the process's cwd.
 */
export function parseEnv(source: Source, cwd: string = process.cwd()): Config {
  const input: Source = {};
  for (const key of ENV_VARIABLES) {
    const value = source[key];
    if (value !== undefined && value.trim() !== '') input[key] = value.trim();
  }
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    throw new EnvError(
      parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`),
    );
  }
  const e = parsed.data;
  const problems: string[] = [];
  if (e.SESSION_IDLE_TIMEOUT > e.SESSION_ABSOLUTE_TIMEOUT) {
    problems.push('SESSION_IDLE_TIMEOUT: must not exceed SESSION_ABSOLUTE_TIMEOUT');
  }
  if (e.METRICS_PORT > 0 && e.METRICS_PORT === e.PORT) {
    problems.push('METRICS_PORT: must differ from PORT (metrics are never served on the public port)');
  }
  if (e.REDIS_URL && e.REDIS_CLUSTER_NODES) {
    problems.push('REDIS_URL and REDIS_CLUSTER_NODES: set one or the other, not both');
  }
  const clusterNodes = e.REDIS_CLUSTER_NODES
    ? e.REDIS_CLUSTER_NODES.split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : null;
  for (const node of clusterNodes ?? []) {
    if (!/^(rediss?:\/\/\S+|[^\s:/]+:\d{1,5})$/.test(node)) {
      problems.push(`REDIS_CLUSTER_NODES: '${node}' is not host:port or a redis:// URL`);
    }
  }
  if (clusterNodes?.length === 0) problems.push('REDIS_CLUSTER_NODES: no node listed');
  if (e.REDIS_WAIT_REPLICAS > 0 && !e.REDIS_URL && !e.REDIS_CLUSTER_NODES) {
    problems.push(
      'REDIS_WAIT_REPLICAS: needs REDIS_URL or REDIS_CLUSTER_NODES (replicas of the session store)',
    );
  }
  const appOrigin = e.APP_ORIGIN ? new URL(e.APP_ORIGIN).origin : `http://localhost:${e.PORT || 3000}`;
  if (e.APP_ORIGIN && new URL(e.APP_ORIGIN).origin !== e.APP_ORIGIN.replace(/\/$/, '')) {
    problems.push(`APP_ORIGIN: must be an origin only (scheme://host[:port]), got '${e.APP_ORIGIN}'`);
  }
  // Where browsers bind at all (https, or http on localhost): session-core's rule, not a copy of it.
  const bindable = isBindableOrigin(appOrigin);
  if (e.DBSC === 'on' && !bindable) {
    problems.push(
      `DBSC: 'on' needs APP_ORIGIN to be https:// (or http:// on localhost): browsers bind sessions only there, got '${appOrigin}'`,
    );
  }
  if (e.DBSC_CHALLENGE_TTL <= e.DBSC_BOUND_COOKIE_TTL) {
    // The challenge a refresh hands out with a bound cookie must still be good when that cookie expires,
    // or every refresh costs an extra round trip for a new one.
    problems.push('DBSC_CHALLENGE_TTL: must be longer than DBSC_BOUND_COOKIE_TTL');
  }
  if (problems.length > 0) throw new EnvError(problems);

  const webDistDir = e.WEB_DIST_DIR ? resolve(cwd, e.WEB_DIST_DIR) : defaultWebDist();
  return {
    nodeEnv: e.NODE_ENV,
    logLevel: e.LOG_LEVEL,
    port: e.PORT,
    host: e.HOST,
    appOrigin,
    redisUrl: e.REDIS_URL ?? null,
    redisClusterNodes: clusterNodes,
    redisWaitForReplicas:
      e.REDIS_WAIT_REPLICAS > 0
        ? { replicas: e.REDIS_WAIT_REPLICAS, timeoutMs: e.REDIS_WAIT_TIMEOUT_MS }
        : null,
    databaseUrl: e.DATABASE_URL ?? null,
    databasePoolSize: e.DATABASE_POOL_SIZE,
    dataDir: resolve(cwd, e.DATA_DIR),
    session: {
      idleTimeoutMs: e.SESSION_IDLE_TIMEOUT,
      absoluteTimeoutMs: e.SESSION_ABSOLUTE_TIMEOUT,
      maxPerUser: e.SESSION_MAX_PER_USER,
      limitPolicy: e.SESSION_LIMIT_POLICY,
    },
    cookieSecure: e.COOKIE_SECURE,
    trustProxy: e.TRUST_PROXY,
    freshAuthWindowMs: e.FRESH_AUTH_WINDOW,
    rateLimit: {
      windowMs: e.RATE_LIMIT_WINDOW,
      authPerIp: e.RATE_LIMIT_AUTH_PER_IP,
      authPerAccount: e.RATE_LIMIT_AUTH_PER_ACCOUNT,
      requestsPerMinute: e.RATE_LIMIT_REQUESTS_PER_MINUTE,
    },
    passwordHashConcurrency: e.PASSWORD_HASH_CONCURRENCY,
    totpEncryptionKeys: e.TOTP_ENCRYPTION_KEYS,
    sessionTagSecret: e.SESSION_TAG_SECRET,
    webDistDir: webDistDir && existsSync(webDistDir) ? webDistDir : null,
    auditRetentionMs: e.AUDIT_RETENTION,
    metricsPort: e.METRICS_PORT > 0 ? e.METRICS_PORT : null,
    metricsHost: e.METRICS_HOST,
    deviceBinding:
      e.DBSC === 'off' || !bindable
        ? null
        : { boundCookieTtlMs: e.DBSC_BOUND_COOKIE_TTL, challengeTtlMs: e.DBSC_CHALLENGE_TTL },
  };
}

/** apps/web/dist next to this package (src/ or dist/ alike). */
function defaultWebDist(): string {
  return fileURLToPath(new URL('../../web/dist', import.meta.url));
}

/**
 * Reads `process.env` (after loading `./.env` from the working directory if present; variables
 * already set in the environment win) and validates it.
 */
export function loadEnv(options: { dotenv?: boolean } = {}): Config {
  if (options.dotenv !== false && existsSync('.env')) process.loadEnvFile('.env');
  return parseEnv(process.env);
}
