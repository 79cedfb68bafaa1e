/**
 * `--cluster`: the same store on a local 3-master Redis Cluster (redis-server binaries, no replicas)
 * beside the single node, interleaved:
 *   in-process  validate() at 50 in flight through an ioredis Cluster client vs a Redis client;
 *   HTTP        a second Tessera server with REDIS_CLUSTER_NODES vs the single-node one (auth.ping, auth.me).
 * On one 2-core machine a Cluster can't add capacity (the client and the three masters share the
 * cores); what this shows is that nothing in the session path becomes cross-slot or slower.
 */
import { redisStore } from '@tessera/session-core/redis';
import type { BenchOptions } from '../lib/args.js';
import { ratioText } from '../lib/format.js';
import { step } from '../lib/progress.js';
import { startCluster } from '../lib/redis.js';
import type { PhaseResult } from '../lib/results.js';
import { runRounds } from '../lib/scenarios.js';
import {
  createHotSessions,
  managerOn,
  readyClient,
  readyCluster,
  TAG_SECRET,
  validateOp,
} from '../lib/sessions.js';
import type { Stack } from '../lib/stack.js';
import { ratioOf } from '../lib/stats.js';
import { randomAccount, startTessera } from '../lib/tessera.js';
import { tesseraScenarios } from './http.js';
import { interleave, opsText } from './validate.js';

export async function runClusterTarget(stack: Stack, options: BenchOptions): Promise<PhaseResult> {
  const cluster = await startCluster(3);
  step(`Redis Cluster: ${cluster.seedList}`);
  const clusterClient = await readyCluster(cluster.nodes);
  const singleClient = await readyClient(stack.redis.url);
  const account = randomAccount('cluster');
  const server = await startTessera({
    name: 'tessera-cluster',
    clusterNodes: cluster.seedList,
    accounts: [account],
    logLevel: options.serverLogLevel,
  });
  try {
    const onCluster = managerOn(
      redisStore({ client: clusterClient, prefix: 'benchc:', tagSecret: TAG_SECRET }),
    );
    const onSingle = managerOn(
      redisStore({ client: singleClient, prefix: 'benchc:', tagSecret: TAG_SECRET }),
    );
    const clusterTokens = await createHotSessions(onCluster, options.hotSessions);
    const singleTokens = await createHotSessions(onSingle, options.hotSessions);
    step('validate(): Cluster vs single node, in-process');
    const stats = await interleave(
      [
        { key: 'cluster', op: validateOp(onCluster, clusterTokens), pids: cluster.pids },
        { key: 'single', op: validateOp(onSingle, singleTokens), pids: [stack.redis.pid] },
      ],
      options,
      [],
    );
    const inproc = ratioOf(stats.cluster!.opsPerSec, stats.single!.opsPerSec);

    step(`HTTP: tessera on the Cluster (pid ${server.pid}) vs on the single node`);
    const cookie = await server.login(account);
    const pick = (list: ReturnType<typeof tesseraScenarios>) =>
      list.filter((s) => s.key.endsWith('.me') || s.key.endsWith('.ping'));
    const http = await runRounds(
      [
        ...pick(tesseraScenarios(stack, 't')),
        ...pick(tesseraScenarios({ tessera: server, tesseraCookie: cookie }, 'c')),
      ],
      options,
    );
    const ping = ratioOf(http['c.ping']!.rps, http['t.ping']!.rps);
    const me = ratioOf(http['c.me']!.rps, http['t.me']!.rps);
    const rps = (key: string) => `${Math.round(http[key]!.rps.median).toLocaleString('en-US')}/s`;
    return {
      rows: [
        {
          id: 'C1',
          target: `Cluster (3 masters) vs single node: validate() in-process, ${options.inFlight} in flight`,
          tessera: opsText(stats.cluster!, 'redis'),
          peer: `${opsText(stats.single!)} single`,
          ratio: ratioText(inproc),
          goal: 'report',
          pass: null,
        },
        {
          id: 'C2',
          target: 'Cluster vs single node: auth.ping over HTTP',
          tessera: rps('c.ping'),
          peer: `${rps('t.ping')} single`,
          ratio: ratioText(ping),
          goal: 'report',
          pass: null,
        },
        {
          id: 'C3',
          target: 'Cluster vs single node: auth.me over HTTP',
          tessera: rps('c.me'),
          peer: `${rps('t.me')} single`,
          ratio: ratioText(me),
          goal: 'report',
          pass: null,
        },
      ],
      metrics: {
        'cluster.validate.opsPerSec': { unit: 'ops/s', summary: stats.cluster!.opsPerSec },
        'single.validate.opsPerSec': { unit: 'ops/s', summary: stats.single!.opsPerSec },
        'cluster.http.ping.rps': { unit: 'req/s', summary: http['c.ping']!.rps },
        'cluster.http.me.rps': { unit: 'req/s', summary: http['c.me']!.rps },
      },
      panels: [
        {
          title: 'validate() on Redis Cluster vs single node',
          unit: 'ops/s',
          better: 'higher',
          bars: [
            { label: 'Cluster, 3 masters', who: 'tessera', summary: stats.cluster!.opsPerSec },
            { label: 'single node', who: 'baseline', summary: stats.single!.opsPerSec },
          ],
        },
      ],
    };
  } finally {
    clusterClient.disconnect();
    singleClient.disconnect();
    await server.stop();
    await cluster.stop();
  }
}
