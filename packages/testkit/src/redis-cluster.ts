import { run } from './exec.js';
import { rawCommand, requireBinary, startRedis, type TestRedis } from './redis.js';
import { waitFor } from './wait.js';

/** A private Redis Cluster: `masters` masters, no replicas, each node a private redis-server. */
export interface TestRedisCluster {
  /** The nodes, as ioredis' `new Cluster(nodes)` takes them. */
  nodes: { host: string; port: number }[];
  /** `host:port,host:port,...`, as REDIS_CLUSTER_NODES takes them. */
  nodesString: string;
  /** Stops every node and removes their directories. */
  stop(): Promise<void>;
}

/**
 * Starts the nodes (each on a port whose cluster-bus twin, port + 10000, is free), joins them with
 * `redis-cli --cluster create` and resolves once every node reports cluster_state:ok. All of it is
 * asynchronous, so other setup running alongside (a PostgreSQL connect with its timeout) isn't starved.
 */
export async function startRedisCluster(masters = 3): Promise<TestRedisCluster> {
  await requireBinary('redis-cli');
  const started = await Promise.allSettled(
    Array.from({ length: masters }, () => startRedis({ clusterNode: true })),
  );
  const servers = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const stop = async () => {
    await Promise.all(servers.map((s) => s.stop()));
  };
  try {
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) throw failed.reason;
    await run(
      'redis-cli',
      ['--cluster', 'create', ...servers.map(address), '--cluster-replicas', '0', '--cluster-yes'],
      { timeout: 30_000 },
    );
    await Promise.all(
      servers.map((s) =>
        waitFor(`cluster_state:ok on ${address(s)}`, async () =>
          (await rawCommand(s.port, 'CLUSTER INFO')).includes('cluster_state:ok'),
        ),
      ),
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    nodes: servers.map((s) => ({ host: s.host, port: s.port })),
    nodesString: servers.map(address).join(','),
    stop,
  };
}

const address = (s: TestRedis) => `${s.host}:${s.port}`;
