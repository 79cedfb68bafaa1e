/**
 * Private redis-server processes for tests: each on a free loopback port, in its own temp directory,
 * with persistence off unless asked. A test may kill one (a store outage) and start it again without
 * disturbing anyone else; nothing shared (like a Redis on 6379) is ever touched.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from './exec.js';
import { freeClusterPort, freePort } from './ports.js';
import { onProcessEnd } from './process-end.js';
import { waitFor } from './wait.js';

const HOST = '127.0.0.1';

export interface TestRedisOptions {
  /** AOF persistence (`appendfsync always`) in its temp directory, so data survives `kill()` + `start()`. */
  appendonly?: boolean;
  /** Allow DEBUG (e.g. `DEBUG SLEEP`), off by default since Redis 7. */
  enableDebug?: boolean;
  /** A cluster-enabled node, on a port whose cluster-bus twin is free (see `startRedisCluster`). */
  clusterNode?: boolean;
  /** More redis-server arguments, e.g. `['--maxmemory', '10mb']`. */
  args?: string[];
}

/**
 * `kill()` is the outage (SIGKILL; `start()` brings it back on the same port and, with `appendonly`,
 * the same data); `stop()` is the end of the test (graceful, then the temp directory is removed).
 */
export interface TestRedis {
  readonly host: string;
  readonly port: number;
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  /** The server's process id while it runs, else null. */
  readonly pid: number | null;
  /** Starts it again after `kill()`; resolves once it answers PING. No-op while it runs. */
  start(): Promise<void>;
  /** SIGKILL: a crash, as the clients see it. Resolves once the process is gone. */
  kill(): Promise<void>;
  /** Final: SIGTERM (SIGKILL after 5 s), then removes its directory. Safe to call twice. */
  stop(): Promise<void>;
}

/** Starts a private redis-server (or throws with install instructions when it is not installed). */
export async function startRedis(options: TestRedisOptions = {}): Promise<TestRedis> {
  await requireBinary('redis-server');
  const dir = await mkdtemp(join(tmpdir(), 'tessera-redis-'));
  let child: ChildProcess | null = null;
  let stopped = false;
  // Every process spawned here, until it exits (including one still booting).
  const live = new Set<ChildProcess>();
  // The server must never outlive the test process (a timeout, a crash, a forgotten stop()).
  const forget = onProcessEnd(() => {
    for (const running of live) running.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  const args = (port: number) => [
    '--port',
    String(port),
    '--bind',
    HOST,
    '--dir',
    dir,
    '--logfile',
    join(dir, 'redis.log'),
    '--save',
    '',
    ...(options.appendonly ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']),
    ...(options.enableDebug ? ['--enable-debug-command', 'local'] : []),
    ...(options.clusterNode
      ? ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '5000']
      : []),
    ...(options.args ?? []),
  ];

  let port = 0;
  try {
    for (let attempt = 1; !child; attempt++) {
      port = await (options.clusterNode ? freeClusterPort() : freePort());
      try {
        child = await spawnRedis(port, args(port), dir, live);
      } catch (error) {
        if (attempt >= 4) throw error; // else someone took the port in between: try another
      }
    }
  } catch (error) {
    forget();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }

  const kill = async () => {
    const running = child;
    child = null;
    if (running) await signal(running, 'SIGKILL');
  };

  return {
    host: HOST,
    port,
    url: `redis://${HOST}:${port}`,
    get pid() {
      return child?.pid ?? null;
    },
    async start() {
      if (stopped) throw new Error(`redis-server on port ${port} was stopped for good (stop()), not killed`);
      child ??= await spawnRedis(port, args(port), dir, live);
    },
    kill,
    async stop() {
      if (stopped) return;
      stopped = true;
      const running = child;
      child = null;
      if (running) {
        const forced = setTimeout(() => running.kill('SIGKILL'), 5_000);
        await signal(running, 'SIGTERM');
        clearTimeout(forced);
      }
      forget();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Spawns redis-server and resolves once it answers PING; on failure the error carries its log. */
async function spawnRedis(
  port: number,
  args: string[],
  dir: string,
  live: Set<ChildProcess>,
): Promise<ChildProcess> {
  // Its log goes to a file; stderr only carries what it says before that is open (a bad argument).
  const child = spawn('redis-server', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  live.add(child);
  child.once('exit', () => live.delete(child));
  child.on('error', () => {}); // reported below as "did not start"
  let stderr = '';
  child.stderr?.on('data', (chunk) => {
    stderr = (stderr + String(chunk)).slice(-2_000);
  });
  try {
    await waitFor(
      `redis-server on port ${port}`,
      async () => (await rawCommand(port, 'PING')).startsWith('+PONG'),
      { giveUp: () => (alive(child) ? undefined : 'redis-server exited') },
    );
    return child;
  } catch (error) {
    await signal(child, 'SIGKILL');
    const log = await readFile(join(dir, 'redis.log'), 'utf8').catch(() => '');
    throw new Error(
      `redis-server on port ${port} did not start: ${(error as Error).message}\n${stderr}${log.slice(-2_000)}`,
    );
  }
}

/** Sends a signal and resolves once the process is gone. */
function signal(child: ChildProcess, name: NodeJS.Signals): Promise<void> {
  if (!alive(child)) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill(name);
  });
}

/** Spawned (a failed spawn has no pid) and not exited yet. */
function alive(child: ChildProcess): boolean {
  return child.pid !== undefined && child.exitCode === null && child.signalCode === null;
}

const probes = new Map<string, Promise<void>>();

/** Fails with install instructions (never skips) when a Redis binary is missing. Checked once. */
export function requireBinary(bin: 'redis-server' | 'redis-cli'): Promise<void> {
  let probe = probes.get(bin);
  if (!probe) {
    probe = run(bin, ['--version']).then(
      () => {},
      (error: Error) => {
        throw new Error(
          `${bin} is not usable (${error.message.split('\n')[0]}): these tests start private Redis servers. ` +
            'Install Redis (apt-get install -y redis-server, brew install redis).',
          { cause: error },
        );
      },
    );
    probes.set(bin, probe);
  }
  return probe;
}

/**
 * Sends one inline command over a raw socket and returns the reply text (simple, integer and bulk
 * replies: enough for PING, CLUSTER INFO/NODES/KEYSLOT and INFO): a readiness probe needs no client
 * library and no retry logic.
 */
export function rawCommand(port: number, command: string, timeoutMs = 1_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: HOST, port });
    let data = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`redis on ${port}: no reply to ${command}`));
    }, timeoutMs);
    socket.on('connect', () => socket.write(`${command}\r\n`));
    socket.on('data', (chunk) => {
      data += chunk.toString();
      const bulk = /^\$(\d+)\r\n/.exec(data);
      const complete =
        data.startsWith('+') || data.startsWith('-') || data.startsWith(':')
          ? data.endsWith('\r\n')
          : bulk !== null && data.length >= bulk[0].length + Number(bulk[1]) + 2;
      if (complete) {
        clearTimeout(timer);
        socket.end();
        resolve(data);
      }
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}
