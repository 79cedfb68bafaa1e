/**
 * ioredis clients configured to fail fast and closed: no offline queue (a command while disconnected
 * fails at once instead of waiting), a per-command timeout, one retry per request; auto-pipelining
 * (commands of one tick share a write). The client reconnects by itself in the background, so the
 * server recovers when Redis comes back.
 * On a Cluster, ioredis runs the per-node connections itself: it gives them an offline queue and no
 * retry strategy of their own whatever `redisOptions` says. What holds there: no cluster-level offline
 * queue, the cluster's own retry strategy, and the per-command timeout (a dead shard's requests fail
 * closed; other shards' users are served). While a master is down and not yet replaced, a command for
 * its slots reaches no node, so no per-command timer runs: ioredis retries it every
 * `retryDelayOnFailover`, refreshing the slot map each time, until `maxRedirections` is spent. 10 x 100 ms
 * keeps that wait near the per-command timeout (the default 16 stretches it by half), and the refreshes
 * find the promoted replica within 100 ms of its promotion: the same cookies work again without a
 * restart (test/faults/cluster-failover.test.ts).
 */
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';

export const FAIL_FAST: RedisOptions = {
  enableOfflineQueue: false,
  // Commands issued in the same tick (concurrent requests' validates) go out in one socket write:
  // fewer syscalls per request under load (docs/PERFORMANCE.md has the A/B).
  enableAutoPipelining: true,
  commandTimeout: 1_000,
  connectTimeout: 2_000,
  maxRetriesPerRequest: 1,
  retryStrategy: (times) => Math.min(100 * times, 2_000),
};

/** Logs connection errors at most once per state change (a dead Redis would otherwise flood the log). */
function watch(client: Redis | Cluster, log: Logger, name: string) {
  let down = false;
  client.on('error', (error: Error) => {
    if (!down) log.warn({ err: error }, `${name}: connection error`);
    down = true;
  });
  client.on('ready', () => {
    if (down) log.info(`${name}: connection restored`);
    down = false;
  });
}

export function redisClient(url: string, log: Logger): Redis {
  const client = new Redis(url, FAIL_FAST);
  watch(client, log, 'redis');
  return client;
}

export function parseClusterNode(node: string): { host: string; port: number } {
  if (/^rediss?:\/\//.test(node)) {
    const u = new URL(node);
    return { host: u.hostname, port: Number(u.port || 6379) };
  }
  const i = node.lastIndexOf(':');
  return { host: node.slice(0, i), port: Number(node.slice(i + 1)) };
}

export function redisClusterClient(nodes: string[], log: Logger): Cluster {
  // Credentials and TLS, if any, come from the first node written as a redis:// or rediss:// URL.
  const first = nodes.find((n) => /^rediss?:\/\//.test(n));
  const auth = first ? new URL(first) : null;
  const client = new Cluster(nodes.map(parseClusterNode), {
    enableOfflineQueue: false,
    enableAutoPipelining: true,
    slotsRefreshTimeout: 2_000,
    retryDelayOnFailover: 100,
    maxRedirections: 10,
    // Errors refresh the slot map; this also does when nothing failed (a quiet instance must not keep
    // routing to a master that was replaced, and may come back empty, while it saw no traffic).
    slotsRefreshInterval: 5_000,
    clusterRetryStrategy: (times) => Math.min(100 * times, 2_000),
    redisOptions: {
      ...FAIL_FAST,
      ...(auth?.username ? { username: decodeURIComponent(auth.username) } : {}),
      ...(auth?.password ? { password: decodeURIComponent(auth.password) } : {}),
      ...(auth?.protocol === 'rediss:' ? { tls: {} } : {}),
    },
  });
  watch(client, log, 'redis cluster');
  return client;
}

/** Resolves true once the client is ready, false after `ms` (the server starts anyway and reports 503). */
export function whenReady(client: Redis | Cluster, ms: number): Promise<boolean> {
  if (client.status === 'ready') return Promise.resolve(true);
  return new Promise((resolve) => {
    const onReady = () => {
      clearTimeout(timer);
      resolve(true);
    };
    const timer = setTimeout(() => {
      client.off('ready', onReady);
      resolve(false);
    }, ms);
    client.once('ready', onReady);
  });
}

/** Redacts the password of a redis:// URL for display. */
export function displayUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(invalid URL)';
  }
}
