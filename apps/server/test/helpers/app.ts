import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, inject } from 'vitest';
import { type ComposeOptions, compose, type Runtime } from '../../src/compose.js';
import { parseEnv } from '../../src/env.js';
import { createServer, type TesseraServer } from '../../src/http/server.js';
import type { Role } from '../../src/users/repository.js';
import { PASSWORD, TEST_ARGON2 } from './defaults.js';
import { HttpClient, parseSetCookie, TEST_ORIGIN } from './http.js';

export { PASSWORD, TEST_ARGON2 } from './defaults.js';

export interface TestApp {
  url: string;
  runtime: Runtime;
  server: TesseraServer;
  dataDir: string | null;
  client(headers?: Record<string, string>): HttpClient;
  createUser(
    email: string,
    options?: { password?: string; role?: Role },
  ): Promise<{ id: string; email: string }>;
  /** A client signed in as a new user. */
  signedIn(email: string, options?: { password?: string; role?: Role }): Promise<HttpClient>;
  stop(): Promise<void>;
}

export interface StartOptions {
  env?: Record<string, string>;
  databaseUrl?: string;
  redisUrl?: string;
  /** Reuse a data dir (embedded mode); default: a fresh temporary one. */
  dataDir?: string;
  compose?: ComposeOptions;
}

export async function startApp(options: StartOptions = {}): Promise<TestApp> {
  const ownDir = !options.dataDir && !options.databaseUrl;
  const dataDir = options.dataDir ?? (options.databaseUrl ? null : freshDataDir());
  const config = parseEnv({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    HOST: '127.0.0.1',
    PORT: '0',
    APP_ORIGIN: TEST_ORIGIN,
    RATE_LIMIT_AUTH_PER_IP: '100000',
    RATE_LIMIT_AUTH_PER_ACCOUNT: '100000',
    RATE_LIMIT_REQUESTS_PER_MINUTE: '1000000',
    ...(dataDir ? { DATA_DIR: dataDir } : {}),
    ...(options.databaseUrl ? { DATABASE_URL: options.databaseUrl } : {}),
    ...(options.redisUrl ? { REDIS_URL: options.redisUrl } : {}),
    ...options.env,
  });
  const runtime = await compose(config, { argon2: TEST_ARGON2, demoUsers: false, ...options.compose });
  const server = createServer(runtime);
  let url: string;
  try {
    url = await server.start({ port: 0, host: '127.0.0.1' });
  } catch (error) {
    await runtime.close();
    throw error;
  }
  const app: TestApp = {
    url,
    runtime,
    server,
    dataDir,
    client: (headers = {}) => new HttpClient(url, headers),
    async createUser(email, o = {}) {
      const { users, passwords } = runtime.deps;
      const user = await users.create({
        email,
        passwordHash: await passwords.hash(o.password ?? PASSWORD),
        role: o.role,
      });
      return { id: user.id, email: user.email };
    },
    async signedIn(email, o = {}) {
      await app.createUser(email, o);
      const c = app.client();
      const r = await c.mutation('auth.login', { email, password: o.password ?? PASSWORD });
      expect(r.status, JSON.stringify(r.error)).toBe(200);
      return c;
    },
    async stop() {
      await server.stop();
      await runtime.close();
      if (ownDir && dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return app;
}

/** A new DATA_DIR holding an initialised empty PGlite database (a copy of the run's template). */
export function freshDataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-test-'));
  cpSync(inject('pgliteTemplate'), dir, { recursive: true });
  return dir;
}

let counter = 0;
/** A unique email per call (tests share one server per file). */
export const uniqueEmail = (label = 'user') =>
  `${label}-${process.pid}-${Date.now().toString(36)}-${counter++}@example.com`;

/** Asserts the attributes of a Set-Cookie that sets (or, with `cleared`, deletes) the session cookie. */
export function expectSessionCookie(
  header: string | undefined,
  opts: { cleared?: boolean; name?: string } = {},
) {
  expect(header, 'a Set-Cookie header').toBeDefined();
  const c = parseSetCookie(header!);
  expect(c.name).toBe(opts.name ?? '__Host-tessera');
  expect(c.attributes.httponly).toBe(true);
  expect(c.attributes.secure).toBe(true);
  expect(c.attributes.samesite).toBe('Lax');
  expect(c.attributes.path).toBe('/');
  expect(c.attributes.domain).toBeUndefined();
  if (opts.cleared) {
    expect(c.value).toBe('');
    expect(c.attributes['max-age']).toBe('0');
  } else {
    expect(c.value).toMatch(/^[A-Za-z0-9_-]{26}\.[A-Za-z0-9_-]{43}$/);
    expect(c.attributes['max-age']).toBeUndefined();
  }
  return c;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
