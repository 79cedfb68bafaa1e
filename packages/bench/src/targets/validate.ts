/**
 * Target 4, in-process against the private Redis, 50 operations in flight, interleaved rounds:
 *   validate()      session-core's validate (one EVALSHA of validate.lua) through an ioredis client
 *                   configured like the server's;
 *   EVALSHA         a trivial script (`return 1`) through the same client: the floor for one script call;
 *   GET + EXPIRE    the connect-redis pattern (load, JSON.parse, touch) through the same client;
 *   connect-redis   the real thing: RedisStore.get + RedisStore.touch on node-redis, as the peer runs it.
 */
import { redisStore } from '@tessera/session-core/redis';
import type { BenchOptions } from '../lib/args.js';
import { num, ratioText } from '../lib/format.js';
import { type InprocRun, inprocRun } from '../lib/inproc-load.js';
import {
  createPeerSessions,
  nodeRedis,
  PEER_PREFIX,
  PEER_TTL_S,
  peerSession,
  peerStore,
} from '../lib/peer-sessions.js';
import { step } from '../lib/progress.js';
import type { PhaseResult } from '../lib/results.js';
import { createHotSessions, managerOn, readyClient, TAG_SECRET, validateOp } from '../lib/sessions.js';
import type { Stack } from '../lib/stack.js';
import { ratioOf, rotation, type Summary, summarize } from '../lib/stats.js';

export interface OpStats {
  opsPerSec: Summary;
  clientCpuUs: Summary;
  serverCpuUs: Summary;
  loopP99: Summary;
}

export function opStats(runs: InprocRun[]): OpStats {
  return {
    opsPerSec: summarize(runs.map((r) => r.opsPerSec)),
    clientCpuUs: summarize(runs.map((r) => r.clientCpuUs)),
    serverCpuUs: summarize(runs.map((r) => r.serverCpuUs)),
    loopP99: summarize(runs.map((r) => r.loopP99)),
  };
}

/** '61,234/s (client 9.1 us, redis 6.2 us)' */
export const opsText = (s: OpStats, server = 'redis') =>
  `${num(s.opsPerSec.median)}/s (${num(s.opsPerSec.min)}-${num(s.opsPerSec.max)}; client ${num(s.clientCpuUs.median, 1)} us, ${server} ${num(s.serverCpuUs.median, 1)} us)`;

/** Runs each op once per round, in rotated order; returns per-op stats. */
export async function interleave(
  ops: { key: string; op: (i: number) => Promise<unknown>; pids?: number[] }[],
  options: BenchOptions,
  serverPids: number[],
): Promise<Record<string, OpStats>> {
  const runs = new Map<string, InprocRun[]>(ops.map((o) => [o.key, []]));
  const settings = (o: (typeof ops)[number], seconds: number) => ({
    seconds,
    concurrency: options.inFlight,
    serverPids: o.pids ?? serverPids,
  });
  for (const o of ops) await inprocRun(o.op, settings(o, Math.min(0.5, options.inprocSeconds)));
  for (let round = 0; round < options.rounds; round++) {
    const parts: string[] = [];
    for (const o of rotation(ops, round)) {
      const run = await inprocRun(o.op, settings(o, options.inprocSeconds));
      runs.get(o.key)!.push(run);
      parts.push(`${o.key} ${num(run.opsPerSec)}/s`);
    }
    step(`round ${round + 1}/${options.rounds}: ${parts.join(' | ')}`);
  }
  return Object.fromEntries(ops.map((o) => [o.key, opStats(runs.get(o.key)!)]));
}

export async function runValidateTarget(stack: Stack, options: BenchOptions): Promise<PhaseResult> {
  const client = await readyClient(stack.redis.url);
  const node = await nodeRedis(stack.redis.url);
  try {
    const sessions = managerOn(redisStore({ client, prefix: 'bench4:', tagSecret: TAG_SECRET }));
    const tokens = await createHotSessions(sessions, options.hotSessions);
    const trivial = (await client.script('LOAD', 'return 1')) as string;
    const store = peerStore(node);
    const peerIds = await createPeerSessions(store, options.hotSessions);
    const peerKeys = peerIds.map((id) => `${PEER_PREFIX}${id}`);
    const peerSess = peerSession('user-0');
    step(
      `${num(options.hotSessions)} Tessera and ${num(options.hotSessions)} connect-redis sessions; ${options.inFlight} in flight`,
    );

    const stats = await interleave(
      [
        { key: 'validate', op: validateOp(sessions, tokens) },
        { key: 'evalsha', op: () => client.evalsha(trivial, 0) },
        {
          key: 'get+expire',
          op: async (i) => {
            const key = peerKeys[i % peerKeys.length]!;
            const raw = await client.get(key);
            if (!raw) throw new Error('GET + EXPIRE: a peer session is missing');
            JSON.parse(raw);
            await client.expire(key, PEER_TTL_S);
          },
        },
        {
          key: 'connect-redis',
          op: async (i) => {
            const sid = peerIds[i % peerIds.length]!;
            const sess = await store.get(sid);
            if (!sess) throw new Error('connect-redis: a peer session is missing');
            await store.touch(sid, peerSess);
          },
        },
      ],
      options,
      [stack.redis.pid],
    );

    const v = stats.validate!;
    const vsEval = ratioOf(v.opsPerSec, stats.evalsha!.opsPerSec);
    const vsGetExpire = ratioOf(v.opsPerSec, stats['get+expire']!.opsPerSec);
    const vsConnectRedis = ratioOf(v.opsPerSec, stats['connect-redis']!.opsPerSec);
    const metrics: PhaseResult['metrics'] = {};
    for (const [key, s] of Object.entries(stats)) {
      metrics[`target4.${key}.opsPerSec`] = { unit: 'ops/s', summary: s.opsPerSec };
      metrics[`target4.${key}.clientCpuUs`] = { unit: 'us/op', summary: s.clientCpuUs };
      metrics[`target4.${key}.redisCpuUs`] = { unit: 'us/op', summary: s.serverCpuUs };
      metrics[`target4.${key}.loopP99`] = { unit: 'ms', summary: s.loopP99 };
    }
    metrics['target4.ratio.evalsha'] = { unit: 'x', summary: vsEval };
    metrics['target4.ratio.getExpire'] = { unit: 'x', summary: vsGetExpire };
    return {
      rows: [
        {
          id: '4',
          target: `validate() vs trivial EVALSHA, same ioredis client, ${options.inFlight} in flight`,
          tessera: opsText(v),
          peer: `${opsText(stats.evalsha!)} EVALSHA`,
          ratio: ratioText(vsEval),
          goal: '>= 0.9x',
          pass: vsEval.median >= 0.9,
        },
        {
          id: '4b',
          target: 'validate() vs GET + EXPIRE (connect-redis pattern), same client',
          tessera: opsText(v),
          peer: `${opsText(stats['get+expire']!)} GET+EXPIRE`,
          ratio: ratioText(vsGetExpire),
          goal: '>= 1.3x',
          pass: vsGetExpire.median >= 1.3,
        },
        {
          id: '4c',
          target: 'validate() vs connect-redis get + touch on node-redis (as the peer runs)',
          tessera: opsText(v),
          peer: `${opsText(stats['connect-redis']!)} connect-redis`,
          ratio: ratioText(vsConnectRedis),
          goal: 'reference',
          pass: null,
        },
      ],
      metrics,
      panels: [
        {
          title: `Session checks/s in-process (${options.inFlight} in flight)`,
          unit: 'ops/s',
          better: 'higher',
          bars: [
            { label: 'Tessera validate()', who: 'tessera', summary: v.opsPerSec },
            { label: 'trivial EVALSHA', who: 'baseline', summary: stats.evalsha!.opsPerSec },
            { label: 'GET + EXPIRE', who: 'peer', summary: stats['get+expire']!.opsPerSec },
            { label: 'connect-redis', who: 'peer', summary: stats['connect-redis']!.opsPerSec },
          ],
        },
      ],
      facts: {
        target4LoopP99ms: Object.fromEntries(Object.entries(stats).map(([k, s]) => [k, s.loopP99.median])),
      },
    };
  } finally {
    client.disconnect();
    await node.quit().catch(() => {});
  }
}
