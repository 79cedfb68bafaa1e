/**
 * The only file that reads `process.env`. Everything else receives a validated, typed `Config`.
 * Every variable is listed (with its default) in `apps/server/.env.example` and the README.
 */
import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDuration } from '@tessera/session-core';
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
    /** All /trpc requests per client IP per minute (a coarse flood guard). */
    requestsPerMinute: number;
  };
  /** argon2id hashes at once; the rest queue (default: one fewer than the cores, at least 1). */
  passwordHashConcurrency: number;
  /** Built SPA to serve in production; null when the folder does not exist. */
  webDistDir: string | null;
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

const schema = z.object({
  NODE_ENV: z.enum(['production', 'development', 'test']).default('production'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  PORT: integer(3000, 0, 65535),
  HOST: z.string().min(1).default('localhost'),
  APP_ORIGIN: url(['http:', 'https:']),
  REDIS_URL: url(['redis:', 'rediss:']),
  REDIS_CLUSTER_NODES: z.string().optional(),
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
  const appOrigin = e.APP_ORIGIN ? new URL(e.APP_ORIGIN).origin : `http://localhost:${e.PORT || 3000}`;
  if (e.APP_ORIGIN && new URL(e.APP_ORIGIN).origin !== e.APP_ORIGIN.replace(/\/$/, '')) {
    problems.push(`APP_ORIGIN: must be an origin only (scheme://host[:port]), got '${e.APP_ORIGIN}'`);
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
    webDistDir: webDistDir && existsSync(webDistDir) ? webDistDir : null,
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
