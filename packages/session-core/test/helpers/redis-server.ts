/**
 * Private redis-server processes for tests: each one on a free port, in its own temp directory, with
 * persistence off. Tests may kill them (store-down scenarios) without disturbing anyone else.
 */
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const HOST = '127.0.0.1';
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export interface RedisServer {
  host: string;
  port: number;
  url: string;
  /** Graceful stop and cleanup. Safe to call twice. */
  stop(): Promise<void>;
  /** SIGKILL: the store-down scenario. Resolves once the process is gone. */
  kill(): Promise<void>;
}

export interface RedisCluster {
  nodes: { host: string; port: number }[];
  stop(): Promise<void>;
}

function requireBinaries(): void {
  for (const bin of ['redis-server', 'redis-cli']) {
    const probe = spawnSync(bin, ['--version'], { stdio: 'ignore' });
    if (probe.error || probe.status !== 0) {
      throw new Error(
        `${bin} not found: the Redis tests start private servers. Install it: apt-get install -y redis-server`,
      );
    }
  }
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, HOST, () => server.close(() => resolve(true)));
  });
}

/** A free port whose cluster-bus twin (port + 10000) is free as well. */
async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 25_000);
    if ((await portIsFree(port)) && (await portIsFree(port + 10_000))) return port;
  }
  throw new Error('no free port found for redis-server');
}

/** Sends one inline command over a raw socket and returns the reply text. */
export function rawCommand(port: number, command: string, timeoutMs = 1000): Promise<string> {
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
      // Simple and bulk replies are enough for PING and CLUSTER INFO.
      const bulk = /^\$(\d+)\r\n/.exec(data);
      if (
        data.startsWith('+') || data.startsWith('-')
          ? data.endsWith('\r\n')
          : bulk && data.length >= bulk[0].length + Number(bulk[1]) + 2
      ) {
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

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}`);
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

async function spawnOnce(port: number, dir: string, extra: string[]): Promise<ChildProcess> {
  const args = [
    '--port',
    String(port),
    '--bind',
    HOST,
    '--save',
    '',
    '--appendonly',
    'no',
    '--dir',
    dir,
    ...extra,
  ];
  const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  child.once('exit', () => running.delete(child));
  let log = '';
  child.stdout?.on('data', (chunk) => {
    log = (log + chunk.toString()).slice(-4000);
  });
  child.stderr?.on('data', (chunk) => {
    log = (log + chunk.toString()).slice(-4000);
  });
  try {
    await waitFor(`redis-server on port ${port}`, async () => {
      if (child.exitCode !== null) throw new Error(`redis-server exited: ${log}`);
      return (await rawCommand(port, 'PING')).startsWith('+PONG');
    });
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`redis-server on port ${port} did not start: ${(error as Error).message}\n${log}`);
  }
  return child;
}

/** Starts a private redis-server (or throws with install instructions when the binary is missing). */
export async function startRedis(extraArgs: string[] = []): Promise<RedisServer> {
  requireBinaries();
  const dir = mkdtempSync(join(tmpdir(), 'tessera-redis-'));
  let child: ChildProcess | undefined;
  let port = 0;
  for (let attempt = 0; !child; attempt++) {
    port = await freePort();
    try {
      child = await spawnOnce(port, dir, extraArgs);
    } catch (error) {
      if (attempt >= 3) throw error; // someone took the port in between: try another
    }
  }
  const proc = child;
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  return {
    host: HOST,
    port,
    url: `redis://${HOST}:${port}`,
    async stop() {
      proc.kill('SIGTERM');
      await exited(proc);
      cleanup();
    },
    async kill() {
      proc.kill('SIGKILL');
      await exited(proc);
    },
  };
}

/** Starts `masters` cluster-enabled servers and joins them into a cluster with no replicas. */
export async function startRedisCluster(masters = 3): Promise<RedisCluster> {
  const servers: RedisServer[] = [];
  try {
    for (let n = 0; n < masters; n++) {
      servers.push(
        await startRedis([
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          'nodes.conf',
          '--cluster-node-timeout',
          '3000',
        ]),
      );
    }
    // Each server has its own temp dir (nodes.conf is per node).
    const addresses = servers.map((s) => `${s.host}:${s.port}`);
    await new Promise<void>((resolve, reject) => {
      execFile(
        'redis-cli',
        ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes'],
        { timeout: 30_000 },
        (error, stdout, stderr) =>
          error ? reject(new Error(`cluster create failed: ${stderr || stdout}`)) : resolve(),
      );
    });
    for (const s of servers) {
      await waitFor(`cluster_state:ok on ${s.port}`, async () =>
        (await rawCommand(s.port, 'CLUSTER INFO')).includes('cluster_state:ok'),
      );
    }
  } catch (error) {
    await Promise.all(servers.map((s) => s.stop()));
    throw error;
  }
  return {
    nodes: servers.map((s) => ({ host: s.host, port: s.port })),
    stop: async () => {
      await Promise.all(servers.map((s) => s.stop()));
    },
  };
}
