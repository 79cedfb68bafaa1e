/**
 * A private Redis Cluster: masters, optionally replicas, each node a private redis-server. A test can
 * SIGKILL a master (`servers[i].kill()`), wait for its replica's promotion (`waitForFailover`), start
 * the old master again (it rejoins as a replica) and wait for the cluster to settle (`waitUntilHealthy`).
 * Every state is polled from the nodes themselves (CLUSTER NODES, CLUSTER INFO, INFO replication) over
 * raw sockets: no fixed sleeps, and nothing blocks the event loop (see ./exec.ts).
 */
import { createConnection } from 'node:net';
import { run } from './exec.js';
import { rawCommand, requireBinary, startRedis, type TestRedis } from './redis.js';
import { waitFor } from './wait.js';

export interface TestRedisClusterOptions {
  /** Masters; the slots are split evenly between them. Default 3 (the smallest majority that survives one loss). */
  masters?: number;
  /** Replicas of each master. Default 0. With replicas, a killed master's replica is promoted. */
  replicasPerMaster?: number;
  /**
   * `cluster-node-timeout` (ms): how long a master may be unreachable before its replica takes over.
   * Default 5000. A failover takes about twice this plus up to a second of election delay.
   */
  nodeTimeoutMs?: number;
}

/** Who serves a slot: its master and the master's replicas. */
export interface TestRedisShard {
  master: TestRedis;
  replicas: TestRedis[];
}

export interface TestRedisCluster {
  /** The nodes, as ioredis' `new Cluster(nodes)` takes them. */
  nodes: { host: string; port: number }[];
  /** `host:port,host:port,...`, as REDIS_CLUSTER_NODES takes them. */
  nodesString: string;
  /** Every node's process: `kill()` one (a crash), `start()` it again (it rejoins with its old id). */
  servers: readonly TestRedis[];
  /** The hash slot of a key (CLUSTER KEYSLOT on a live node). */
  slotOf(key: string): Promise<number>;
  /** Who serves `slot` now, as the live nodes see it (they must agree). */
  shardOf(slot: number): Promise<TestRedisShard>;
  /**
   * Resolves with the new master of `slot` once every live node sees it served by a node other than
   * `from` and says cluster_state:ok. Throws after `timeoutMs` (default 20 s).
   */
  waitForFailover(slot: number, from: TestRedis, options?: { timeoutMs?: number }): Promise<TestRedis>;
  /**
   * Resolves once every node runs and says cluster_state:ok, all of them see every node connected, not
   * failing and in the same role, and every replica's link to its master is up. Throws after
   * `timeoutMs` (default 20 s).
   */
  waitUntilHealthy(options?: { timeoutMs?: number }): Promise<void>;
  /**
   * Opens the asynchronous-replication window on purpose: freezes `replica` (SIGSTOP) and has its
   * master drop the replication link, so whatever the master acknowledges from then on reaches no
   * replica (a replica that is merely slow still gets it: the bytes wait in its socket, and Redis 7
   * reconnects a dropped replica at once). `release()` resumes it (SIGCONT). Keep it short: a frozen
   * node answers no cluster pings either, and is flagged as failing after cluster-node-timeout.
   */
  detachReplica(replica: TestRedis): Promise<{ release(): void }>;
  /** Stops every node and removes their directories. */
  stop(): Promise<void>;
}

/**
 * Starts the nodes (each on a port whose cluster-bus twin, port + 10000, is free), joins them with
 * `redis-cli --cluster create` and resolves once the cluster is healthy (every replica in sync with its
 * master). All of it is asynchronous, so other setup running alongside (a PostgreSQL connect with its
 * timeout) isn't starved. `startRedisCluster(3)` is `startRedisCluster({ masters: 3 })`.
 */
export async function startRedisCluster(
  options: number | TestRedisClusterOptions = {},
): Promise<TestRedisCluster> {
  const {
    masters = 3,
    replicasPerMaster = 0,
    nodeTimeoutMs = 5_000,
  } = typeof options === 'number' ? { masters: options } : options;
  await requireBinary('redis-cli');
  const started = await Promise.allSettled(
    Array.from({ length: masters * (1 + replicasPerMaster) }, () =>
      startRedis({
        clusterNode: true,
        // No 5 s wait for more replicas before a full sync: a restarted node rejoins at once.
        args: ['--cluster-node-timeout', String(nodeTimeoutMs), '--repl-diskless-sync-delay', '0'],
      }),
    ),
  );
  const servers = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const frozen = new Set<number>();
  const stop = async () => {
    // A stopped process would only take SIGTERM once continued (stop() SIGKILLs it after 5 s).
    for (const pid of frozen) process.kill(pid, 'SIGCONT');
    frozen.clear();
    await Promise.all(servers.map((s) => s.stop()));
  };
  const cluster = clusterOf(servers, stop, frozen);
  try {
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) throw failed.reason;
    // redis-cli makes the first `masters` addresses masters and spreads the rest over them as replicas.
    await run(
      'redis-cli',
      [
        '--cluster',
        'create',
        ...servers.map(address),
        '--cluster-replicas',
        String(replicasPerMaster),
        '--cluster-yes',
      ],
      { timeout: 30_000 },
    );
    await cluster.waitUntilHealthy();
  } catch (error) {
    await stop();
    throw error;
  }
  return cluster;
}

/** One line of CLUSTER NODES (https://redis.io/docs/latest/commands/cluster-nodes/). */
interface NodeLine {
  id: string;
  port: number;
  flags: string[];
  masterId: string | null;
  connected: boolean;
  /** Inclusive ranges; slots being imported or migrated (`[...]`) are left out. */
  slots: [number, number][];
}

function parseNodes(text: string): NodeLine[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const [id = '', addr = '', flags = '', master = '-', , , , link = '', ...slots] = line
        .trim()
        .split(' ');
      const hostPort = addr.split('@')[0] ?? '';
      return {
        id,
        port: Number(hostPort.slice(hostPort.lastIndexOf(':') + 1)),
        flags: flags.split(','),
        masterId: master === '-' ? null : master,
        connected: link === 'connected',
        slots: slots
          .filter((s) => !s.startsWith('['))
          .map((s) => {
            const [from, to = from] = s.split('-').map(Number) as [number, number?];
            return [from, to] as [number, number];
          }),
      };
    });
}

/** The payload of a bulk reply, or the error of an error reply. */
function bulk(reply: string): string {
  if (reply.startsWith('-')) throw new Error(reply.slice(1).trim());
  return reply.slice(reply.indexOf('\r\n') + 2, -2);
}

const failing = (line: NodeLine) =>
  line.flags.some((f) => f === 'fail' || f === 'fail?' || f === 'handshake' || f === 'noaddr');

function clusterOf(servers: TestRedis[], stop: () => Promise<void>, frozen: Set<number>): TestRedisCluster {
  const running = () => servers.filter((s) => s.pid !== null);
  const byPort = (port: number) => {
    const server = servers.find((s) => s.port === port);
    if (!server) throw new Error(`no node of this cluster listens on ${port}`);
    return server;
  };
  const view = async (s: TestRedis) => parseNodes(bulk(await rawCommand(s.port, 'CLUSTER NODES')));
  const stateOk = async (s: TestRedis) =>
    (await rawCommand(s.port, 'CLUSTER INFO')).includes('cluster_state:ok');
  /** SET of a short-lived key that `master` serves, then WAIT, on one connection: the replicas that acked. */
  const writeAndWait = async (master: NodeLine, replicas: number): Promise<number> => {
    for (let n = 0; n < 10_000; n++) {
      const key = `testkit:probe:${n}`;
      const slot = Number((await rawCommand(master.port, `CLUSTER KEYSLOT ${key}`)).slice(1));
      if (!master.slots.some(([a, b]) => slot >= a && slot <= b)) continue;
      const [set, wait] = await rawCommands(master.port, [`SET ${key} 1 PX 10000`, `WAIT ${replicas} 100`]);
      if (set !== '+OK') throw new Error(`SET on ${master.port}: ${set}`);
      return Number(wait?.slice(1));
    }
    throw new Error(`no probe key in the slots of ${master.port}`);
  };
  const ownerIn = (lines: NodeLine[], slot: number) =>
    lines.find(
      (l) => l.flags.includes('master') && !failing(l) && l.slots.some(([a, b]) => slot >= a && slot <= b),
    );

  /** The shard of `slot` if every given node sees the same live master for it, else null. */
  const agreedShard = async (nodes: TestRedis[], slot: number): Promise<TestRedisShard | null> => {
    let agreed: TestRedisShard | null = null;
    for (const node of nodes) {
      const lines = await view(node);
      const owner = ownerIn(lines, slot);
      if (!owner) return null;
      if (agreed && agreed.master.port !== owner.port) return null;
      agreed ??= {
        master: byPort(owner.port),
        replicas: lines.filter((l) => l.masterId === owner.id).map((l) => byPort(l.port)),
      };
    }
    return agreed;
  };

  return {
    nodes: servers.map((s) => ({ host: s.host, port: s.port })),
    nodesString: servers.map(address).join(','),
    servers,
    async slotOf(key) {
      if (/\s/.test(key)) throw new Error('slotOf: a key without whitespace (sent as an inline command)');
      const [node] = running();
      if (!node) throw new Error('no node of the cluster is running');
      const reply = await rawCommand(node.port, `CLUSTER KEYSLOT ${key}`);
      if (!reply.startsWith(':')) throw new Error(`CLUSTER KEYSLOT: ${reply.trim()}`);
      return Number(reply.slice(1));
    },
    async shardOf(slot) {
      const shard = await agreedShard(running(), slot);
      if (!shard) throw new Error(`the live nodes don't agree on a live master for slot ${slot}`);
      return shard;
    },
    async waitForFailover(slot, from, { timeoutMs = 20_000 } = {}) {
      let promoted: TestRedis | null = null;
      await waitFor(
        `slot ${slot} to fail over from ${address(from)}`,
        async () => {
          const live = running().filter((s) => s !== from);
          if (!(await Promise.all(live.map(stateOk))).every(Boolean)) return false;
          const shard = await agreedShard(live, slot);
          promoted = shard && shard.master !== from ? shard.master : null;
          return promoted !== null;
        },
        { timeoutMs },
      );
      return promoted as unknown as TestRedis;
    },
    async waitUntilHealthy({ timeoutMs = 20_000 } = {}) {
      await waitFor(
        'every node of the cluster to be up and in sync',
        async () => {
          const nodes = await Promise.all(
            servers.map(async (s) => ({
              lines: await view(s),
              replication: bulk(await rawCommand(s.port, 'INFO replication')),
              ok: await stateOk(s),
            })),
          );
          // Every node must see each node in the same role (a restarted master claims its old slots
          // until the others tell it it was replaced), and each replica must be in sync.
          const consistent = servers.every((s, i) => {
            const roles = nodes.map(({ lines }) => {
              const line = lines.find((l) => l.port === s.port);
              return line?.connected && !failing(line) && lines.length === servers.length
                ? `${line.flags.includes('master') ? 'master' : 'replica'} ${line.masterId}`
                : null;
            });
            const role = roles[0];
            if (!role || roles.some((r) => r !== role) || !nodes[i]!.ok) return false;
            const { replication } = nodes[i]!;
            return role.startsWith('master')
              ? replication.includes('role:master')
              : replication.includes('master_link_status:up');
          });
          if (!consistent) return false;
          // A link that is up is not enough: after a full sync a master streams to the replica only
          // from its first acknowledgement, which can take a second. A write and WAIT on each master
          // must reach all its replicas, as a test's WAIT will.
          const { lines } = nodes[0]!;
          const probes = lines
            .filter((m) => m.flags.includes('master') && m.slots.length > 0)
            .map(async (m) => {
              const replicas = lines.filter((l) => l.masterId === m.id).length;
              return replicas === 0 || (await writeAndWait(m, replicas)) >= replicas;
            });
          return (await Promise.all(probes)).every(Boolean);
        },
        {
          timeoutMs,
          giveUp: () => (servers.some((s) => s.pid === null) ? 'a node is not running' : undefined),
        },
      );
    },
    async detachReplica(replica) {
      const observer = running().find((s) => s !== replica);
      if (!observer || replica.pid === null)
        throw new Error('detachReplica: the replica and another node must run');
      const lines = await view(observer);
      const masterId = lines.find((l) => l.port === replica.port)?.masterId;
      const masterLine = lines.find((l) => l.id === masterId);
      if (!masterLine) throw new Error(`detachReplica: ${address(replica)} is not a replica`);
      const master = byPort(masterLine.port);
      const pid = replica.pid;
      process.kill(pid, 'SIGSTOP');
      frozen.add(pid);
      const release = () => {
        if (frozen.delete(pid)) process.kill(pid, 'SIGCONT');
      };
      try {
        await rawCommand(master.port, 'CLIENT KILL TYPE replica');
        await waitFor(`${address(master)} to have no replica connected`, async () =>
          bulk(await rawCommand(master.port, 'INFO replication')).includes('connected_slaves:0'),
        );
      } catch (error) {
        release();
        throw error;
      }
      return { release };
    },
    stop,
  };
}

const address = (s: TestRedis) => `${s.host}:${s.port}`;

/** Sends inline commands on one connection; resolves with their one-line replies (simple, integer, error). */
function rawCommands(port: number, commands: string[], timeoutMs = 1_000): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let data = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`redis on ${port}: no reply to ${commands.join('; ')}`));
    }, timeoutMs);
    socket.on('connect', () => socket.write(commands.map((c) => `${c}\r\n`).join('')));
    socket.on('data', (chunk) => {
      data += chunk.toString();
      const lines = data.split('\r\n');
      if (lines.length <= commands.length) return;
      clearTimeout(timer);
      socket.end();
      resolve(lines.slice(0, commands.length));
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}
