/**
 * Private redis-server instances on free ports: no persistence (`--save "" --appendonly no`), in a
 * temporary directory, stopped with the bench. Never the machine's shared Redis.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { freePort, removeTempDir, type Service, startService, tempDir, waitFor } from './processes.js';

const run = promisify(execFile);

export interface RedisServer {
  port: number;
  url: string;
  pid: number;
  service: Service;
  stop(): Promise<void>;
}

async function ping(port: number): Promise<boolean> {
  const { stdout } = await run('redis-cli', ['-p', String(port), 'ping']);
  return stdout.trim() === 'PONG';
}

export async function startRedis(name = 'redis', extraArgs: string[] = []): Promise<RedisServer> {
  const port = await freePort();
  const dir = tempDir('redis');
  const service = startService(name, 'redis-server', [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--dir',
    dir,
    ...extraArgs,
  ]);
  await waitFor(`${name} on port ${port}`, () => ping(port), { service });
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    pid: service.pid,
    service,
    async stop() {
      await service.stop();
      removeTempDir(dir);
    },
  };
}

export interface RedisCluster {
  nodes: { host: string; port: number }[];
  /** `host:port,host:port,...` as REDIS_CLUSTER_NODES wants it. */
  seedList: string;
  pids: number[];
  stop(): Promise<void>;
}

/** A Redis Cluster of `masters` masters and no replicas, from redis-server binaries. */
export async function startCluster(masters = 3): Promise<RedisCluster> {
  const servers: RedisServer[] = [];
  for (let i = 0; i < masters; i++) {
    servers.push(
      await startRedis(`redis-cluster-${i + 1}`, [
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        `nodes-${i}.conf`,
        '--cluster-node-timeout',
        '2000',
      ]),
    );
  }
  const addresses = servers.map((s) => `127.0.0.1:${s.port}`);
  await run('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes']);
  await waitFor(
    'cluster_state:ok on every node',
    async () => {
      for (const s of servers) {
        const { stdout } = await run('redis-cli', ['-p', String(s.port), 'cluster', 'info']);
        if (!stdout.includes('cluster_state:ok')) return false;
      }
      return true;
    },
    { timeoutMs: 20_000 },
  );
  return {
    nodes: servers.map((s) => ({ host: '127.0.0.1', port: s.port })),
    seedList: addresses.join(','),
    pids: servers.map((s) => s.pid),
    async stop() {
      await Promise.all(servers.map((s) => s.stop()));
    },
  };
}

/** A plain client for the bench's own reads and loads (not the fail-fast one the server uses). */
export function benchClient(url: string): Redis {
  return new Redis(url, { maxRetriesPerRequest: 3 });
}

/** One field of INFO, as a number. */
export async function infoNumber(client: Redis, section: string, field: string): Promise<number> {
  const text = await client.info(section);
  const match = new RegExp(`^${field}:(\\S+)`, 'm').exec(text);
  if (!match) throw new Error(`INFO ${section} has no ${field}`);
  return Number(match[1]);
}
