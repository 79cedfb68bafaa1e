/**
 * The Tessera server as users run it: `node apps/server/dist/main.js` with NODE_ENV=production, in a
 * child process, on its own embedded users database (DATA_DIR in a temporary directory) and the
 * bench's private Redis (or Cluster). Bench users are created first with the server's own CLI
 * (`cli.js users create`), since the CLI refuses to share a data directory with a running server.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { DbscBrowser } from '@tessera/session-core/testing';
import { probeImport } from './loop-delay.js';
import { inRepo } from './paths.js';
import { freePort, removeTempDir, type Service, startService, tempDir, waitFor } from './processes.js';

const run = promisify(execFile);

export const SERVER_MAIN = inRepo('apps/server/dist/main.js');
export const SERVER_CLI = inRepo('apps/server/dist/cli.js');

export interface Account {
  email: string;
  password: string;
}

export interface TesseraOptions {
  name?: string;
  redisUrl?: string;
  clusterNodes?: string;
  /** Accounts to create before the server starts. */
  accounts: Account[];
  /** Server log level. Default 'warn': pino's per-request lines at 'info' are measured separately. */
  logLevel?: string;
  /** Extra node flags (e.g. --cpu-prof). */
  nodeFlags?: string[];
  env?: Record<string, string>;
}

export interface Tessera {
  url: string;
  origin: string;
  pid: number;
  service: Service;
  /** Signs in through POST /trpc/auth.login; returns the `Cookie` header value for later requests. */
  login(account: Account, userAgent?: string): Promise<string>;
  /**
   * Signs in as a DBSC browser would (session-core's test browser: a P-256 key, the registration POST);
   * returns the `Cookie` header with the session cookie and the bound cookie.
   */
  loginBound(account: Account): Promise<string>;
  /** SIGTERM (the server shuts down cleanly), SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

export const randomAccount = (label: string): Account => ({
  email: `${label}-${randomBytes(4).toString('hex')}@bench.example`,
  password: `bench ${randomBytes(18).toString('base64url')}`,
});

export async function startTessera(options: TesseraOptions): Promise<Tessera> {
  for (const file of [SERVER_MAIN, SERVER_CLI]) {
    if (!existsSync(file))
      throw new Error(`${file} is missing: build the server first (pnpm bench builds it)`);
  }
  const name = options.name ?? 'tessera';
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const dataDir = tempDir('data');
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    NODE_ENV: 'production',
    LOG_LEVEL: options.logLevel ?? 'warn',
    PORT: String(port),
    HOST: '127.0.0.1',
    APP_ORIGIN: origin,
    DATA_DIR: dataDir,
    ...(options.redisUrl ? { REDIS_URL: options.redisUrl } : {}),
    ...(options.clusterNodes ? { REDIS_CLUSTER_NODES: options.clusterNodes } : {}),
    // The coarse per-IP guard and the credential limits would stop a load test from one address.
    RATE_LIMIT_REQUESTS_PER_MINUTE: '10000000',
    RATE_LIMIT_AUTH_PER_IP: '1000000',
    RATE_LIMIT_AUTH_PER_ACCOUNT: '1000000',
    // Device binding on (APP_ORIGIN is loopback http), with bound cookies that outlive any run, so the
    // bound session's requests measure the check, not refreshes.
    DBSC: 'on',
    DBSC_BOUND_COOKIE_TTL: '12h',
    DBSC_CHALLENGE_TTL: '13h',
    ...options.env,
  };
  // cwd = the data directory, so no stray .env file is loaded.
  for (const account of options.accounts) {
    await run(
      process.execPath,
      [SERVER_CLI, 'users', 'create', '--email', account.email, '--password', account.password],
      {
        env,
        cwd: dataDir,
      },
    );
  }
  // The bench's own runtime, not whichever `node` is first on PATH: comparing Node versions means
  // running the bench with that binary, and the server under test has to follow it.
  const service = startService(
    name,
    process.execPath,
    [...(options.nodeFlags ?? []), ...probeImport(), SERVER_MAIN],
    {
      env,
      cwd: dataDir,
      ipc: true,
    },
  );
  await waitFor(`${name} at ${origin}`, async () => (await fetch(`${origin}/healthz`)).status === 200, {
    service,
    timeoutMs: 30_000,
  });
  return {
    url: origin,
    origin,
    pid: service.pid,
    service,
    async login(account, userAgent = 'tessera-bench') {
      const response = await fetch(`${origin}/trpc/auth.login`, {
        method: 'POST',
        headers: { origin, 'content-type': 'application/json', 'user-agent': userAgent },
        body: JSON.stringify({ email: account.email, password: account.password }),
      });
      const text = await response.text();
      if (response.status !== 200) throw new Error(`${name}: login failed (${response.status}): ${text}`);
      const cookies = response.headers.getSetCookie().map((c) => c.split(';')[0]!);
      const session = cookies.find((c) => /^(__Host-)?tessera=./.test(c));
      if (!session) throw new Error(`${name}: login set no session cookie (${cookies.join(', ')})`);
      return session;
    },
    async loginBound(account) {
      const browser = new DbscBrowser({
        fetch,
        origin,
        headers: { origin, 'content-type': 'application/json', 'user-agent': 'tessera-bench' },
      });
      const response = await browser.request('/trpc/auth.login', {
        method: 'POST',
        body: JSON.stringify({ email: account.email, password: account.password }),
      });
      if (response.status !== 200) throw new Error(`${name}: bound login failed (${response.status})`);
      if (!browser.events.some((e) => e.type === 'registered'))
        throw new Error(`${name}: the session did not bind (${JSON.stringify(browser.events)}): is DBSC on?`);
      return browser.cookieHeader();
    },
    async stop(graceMs) {
      await service.stop(graceMs);
      removeTempDir(dataDir);
    },
  };
}
