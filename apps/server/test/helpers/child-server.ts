import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { onProcessEnd } from '@tessera/testkit';
import pg from 'pg';
import { secretBox } from '../../src/auth/secret-box.js';
import { postgresDatabase } from '../../src/infra/database.js';
import { passwordHasher } from '../../src/users/passwords.js';
import { type Role, userRepository } from '../../src/users/repository.js';
import { PASSWORD, TEST_ARGON2, TEST_TOTP_KEY } from './defaults.js';
import { HttpClient, TEST_ORIGIN } from './http.js';

/**
 * The server as a separate OS process (scripts/test-server.mjs running the built dist/), for tests
 * that must SIGKILL it, read its RSS, or run two instances side by side. Its stdout (the JSON log) is
 * kept in `logs`.
 */
export interface ChildServer {
  url: string;
  pid: number;
  /** Every stdout/stderr line so far (pino JSON lines, plus anything else the process printed). */
  logs: string[];
  /** Resolves when the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  alive(): boolean;
  /** Resident set size in bytes (from /proc), or null once it exited. */
  rss(): number | null;
  client(headers?: Record<string, string>): HttpClient;
  /** SIGKILL (default) or another signal; resolves when it is gone. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** SIGTERM and wait. */
  stop(): Promise<void>;
}

const here = fileURLToPath(new URL('.', import.meta.url));
const serverRoot = join(here, '..', '..');
const ENTRY = join(serverRoot, 'scripts', 'test-server.mjs');

function newest(dir: string, ext: RegExp): number {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) latest = Math.max(latest, newest(path, ext));
    else if (ext.test(entry.name)) latest = Math.max(latest, statSync(path).mtimeMs);
  }
  return latest;
}

/**
 * The child runs dist/: it must exist (`pnpm test` builds first through turbo). A dist older than
 * src/ only warns: a turbo cache hit after a touch without a change leaves it older, and is current.
 */
export function assertBuilt(): void {
  const packages = [serverRoot, join(serverRoot, '..', '..', 'packages', 'session-core')];
  for (const root of packages) {
    let built = 0;
    try {
      built = newest(join(root, 'dist'), /\.js$/);
    } catch {
      built = 0;
    }
    if (built === 0) {
      throw new Error(
        `${root}/dist is missing: run \`pnpm --filter @tessera/server... build\` first (pnpm test does it).`,
      );
    }
    if (built < newest(join(root, 'src'), /\.(ts|lua|sql)$/) && !warned.has(root)) {
      warned.add(root);
      console.warn(
        `${root}/dist is older than src/: the child server runs the built code (rebuild if src changed).`,
      );
    }
  }
}
const warned = new Set<string>();

/**
 * If the test process ends first (a timeout, a crash, vitest ending its worker with SIGTERM), its
 * children must not outlive it.
 */
function killOnExit(child: ChildProcess) {
  const forget = onProcessEnd(() => child.kill('SIGKILL'));
  child.once('exit', forget);
}

export interface ChildServerOptions {
  /** Variables for the server (parseEnv); merged over test defaults. Nothing is inherited. */
  env?: Record<string, string>;
  /** 'cheap' (default) or 'production' argon2 parameters. */
  argon2?: 'cheap' | 'production';
  /** Shorter session tombstones (ms). */
  tombstoneTtlMs?: number;
  /** Extra node flags, e.g. ['--expose-gc']. */
  nodeArgs?: string[];
}

export async function startChildServer(options: ChildServerOptions = {}): Promise<ChildServer> {
  assertBuilt();
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    NODE_ENV: 'test',
    LOG_LEVEL: 'info',
    HOST: '127.0.0.1',
    PORT: '0',
    APP_ORIGIN: TEST_ORIGIN,
    RATE_LIMIT_AUTH_PER_IP: '1000000',
    RATE_LIMIT_AUTH_PER_ACCOUNT: '1000000',
    RATE_LIMIT_REQUESTS_PER_MINUTE: '10000000',
    TOTP_ENCRYPTION_KEYS: TEST_TOTP_KEY,
    ...(options.argon2 === 'production' ? { TESSERA_TEST_ARGON2: 'production' } : {}),
    ...(options.tombstoneTtlMs ? { TESSERA_TEST_TOMBSTONE_TTL_MS: String(options.tombstoneTtlMs) } : {}),
    ...options.env,
  };
  const child: ChildProcess = spawn(process.execPath, [...(options.nodeArgs ?? []), ENTRY], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  killOnExit(child);
  const logs: string[] = [];
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  let onLine: ((line: string) => void) | null = null;
  for (const stream of [child.stdout!, child.stderr!]) {
    let rest = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) {
        logs.push(line);
        onLine?.(line);
      }
    });
  }
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`the server did not start:\n${logs.join('\n')}`)),
      30_000,
    );
    onLine = (line) => {
      if (!line.startsWith('{"testServer"')) return;
      clearTimeout(timer);
      resolve((JSON.parse(line) as { testServer: string }).testServer);
    };
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`the server exited (${code ?? signal}) before listening:\n${logs.join('\n')}`));
    });
  });
  onLine = null;
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  const kill = async (signal: NodeJS.Signals = 'SIGKILL') => {
    if (gone) return;
    child.kill(signal);
    await exited;
  };
  return {
    url,
    pid: child.pid!,
    logs,
    exited,
    alive: () => !gone,
    rss() {
      if (gone) return null;
      try {
        const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
        const kb = /VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1];
        return kb ? Number(kb) * 1024 : null;
      } catch {
        return null;
      }
    },
    client: (headers = {}) => new HttpClient(url, headers),
    kill,
    stop: () => kill('SIGTERM'),
  };
}

/**
 * Direct access to the users table of a PostgreSQL database a child server uses (the child owns the
 * schema: start it first, it migrates). Hashes with the same cheap argon2 the child uses.
 */
export function userAdmin(databaseUrl: string) {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 4 });
  pool.on('error', () => {});
  const db = postgresDatabase(pool);
  const users = userRepository(db, { secrets: secretBox([Buffer.from(TEST_TOTP_KEY, 'base64')]) });
  const passwords = passwordHasher(TEST_ARGON2, 1);
  return {
    users,
    passwords,
    db,
    async create(email: string, options: { password?: string; role?: Role } = {}) {
      const user = await users.create({
        email,
        passwordHash: await passwords.hash(options.password ?? PASSWORD),
        role: options.role,
      });
      return { id: user.id, email: user.email };
    },
    /** Which of these passwords the stored hash accepts now (null: none). */
    async passwordOf(email: string, candidates: string[]): Promise<string | null> {
      const user = await users.findByEmail(email);
      if (!user) return null;
      for (const c of candidates) if (await passwords.verify(user.passwordHash, c)) return c;
      return null;
    },
    close: () => pool.end(),
  };
}
