/**
 * Target 6: Redis memory per session, all in. A fresh redis-server per side; N sessions of N users
 * (the worst case for Tessera, whose per-user index is then one small sorted set per session), each
 * with the same 110-character user agent, an IPv4 address and a role:
 *   Tessera        session-core's create() (session hash + the user's index, both with TTLs);
 *   connect-redis  RedisStore.set with the session object express-session would hand it.
 * Reported: used_memory growth / N (everything: keys, values, expiry entries, dict overhead), and
 * MEMORY USAGE of sampled keys (what one record costs by itself).
 */
import { redisKeys, redisStore } from '@tessera/session-core/redis';
import type { Redis } from 'ioredis';
import type { BenchOptions } from '../lib/args.js';
import { num } from '../lib/format.js';
import { createPeerSessions, nodeRedis, PEER_PREFIX, peerStore } from '../lib/peer-sessions.js';
import { step } from '../lib/progress.js';
import { infoNumber, startRedis } from '../lib/redis.js';
import type { PhaseResult } from '../lib/results.js';
import { IPV4, managerOn, ROLE_DATA, readyClient, TAG_SECRET, USER_AGENT } from '../lib/sessions.js';
import { summarize } from '../lib/stats.js';

const PREFIX = 'tessera:';

async function settledUsedMemory(client: Redis): Promise<number> {
  // Lazy frees and client buffers settle within a moment; read twice and take the later value.
  await new Promise((r) => setTimeout(r, 200));
  return infoNumber(client, 'memory', 'used_memory');
}

async function averageUsage(client: Redis, keys: string[]): Promise<number> {
  let total = 0;
  for (const key of keys) total += Number(await client.memory('USAGE', key, 'SAMPLES', '0'));
  return total / keys.length;
}

export interface MemoryFigures {
  perSession: number;
  sessionKey: number;
  indexKey: number;
  keysPerSession: number;
}

export async function tesseraMemory(n: number): Promise<MemoryFigures> {
  const redis = await startRedis('redis-memory-tessera');
  const client = await readyClient(redis.url);
  try {
    const sessions = managerOn(redisStore({ client, prefix: PREFIX, tagSecret: TAG_SECRET }));
    // One session first, so the scripts are loaded (Redis caches them: ~100 KB that is not per session).
    await sessions.create({ userId: 'warm-up', data: { ...ROLE_DATA }, userAgent: USER_AGENT, ip: IPV4 });
    const keysBefore = await client.dbsize();
    const before = await settledUsedMemory(client);
    const ids: { id: string; userId: string }[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: 100 }, async () => {
        while (next < n) {
          const i = next++;
          const userId = `user-${String(i).padStart(8, '0')}`;
          const issued = await sessions.create({
            userId,
            data: { ...ROLE_DATA },
            userAgent: USER_AGENT,
            ip: IPV4,
          });
          if (i < 200) ids.push({ id: issued.session.id, userId });
        }
      }),
    );
    const after = await settledUsedMemory(client);
    const keys = redisKeys({ prefix: PREFIX, tagSecret: TAG_SECRET });
    return {
      perSession: (after - before) / n,
      sessionKey: await averageUsage(
        client,
        ids.map((s) => keys.session(s.id)),
      ),
      indexKey: await averageUsage(
        client,
        ids.map((s) => keys.userIndex(s.userId)),
      ),
      keysPerSession: ((await client.dbsize()) - keysBefore) / n,
    };
  } finally {
    client.disconnect();
    await redis.stop();
  }
}

export async function peerMemory(n: number): Promise<MemoryFigures> {
  const redis = await startRedis('redis-memory-peer');
  const node = await nodeRedis(redis.url);
  try {
    const store = peerStore(node);
    const before = Number(/used_memory:(\d+)/.exec(await node.info('memory'))?.[1]);
    const ids = await createPeerSessions(store, n);
    await new Promise((r) => setTimeout(r, 200));
    const after = Number(/used_memory:(\d+)/.exec(await node.info('memory'))?.[1]);
    let usage = 0;
    const sample = ids.slice(0, 200);
    for (const id of sample)
      usage += Number(await node.sendCommand(['MEMORY', 'USAGE', `${PEER_PREFIX}${id}`, 'SAMPLES', '0']));
    return {
      perSession: (after - before) / n,
      sessionKey: usage / sample.length,
      indexKey: 0,
      keysPerSession: (await node.dbSize()) / n,
    };
  } finally {
    await node.quit().catch(() => {});
    await redis.stop();
  }
}

export async function runMemoryTarget(options: BenchOptions): Promise<PhaseResult> {
  const n = options.memorySessions;
  const ours = await tesseraMemory(n);
  step(
    `Tessera: ${num(ours.perSession)} B/session all-in (session key ${num(ours.sessionKey)} B, index ${num(ours.indexKey)} B)`,
  );
  const peer = await peerMemory(n);
  step(`connect-redis: ${num(peer.perSession)} B/session all-in (key ${num(peer.sessionKey)} B)`);
  const one = (v: number) => summarize([v]);
  return {
    rows: [
      {
        id: '6',
        target: `Redis memory per session, all in (${num(n)} sessions, 110-char UA, IPv4, role)`,
        tessera: `${num(ours.perSession)} B (MEMORY USAGE: session ${num(ours.sessionKey)} + index ${num(ours.indexKey)})`,
        peer: `${num(peer.perSession)} B (MEMORY USAGE ${num(peer.sessionKey)}) connect-redis, no user index`,
        ratio: `${(ours.perSession / peer.perSession).toFixed(2)}x`,
        goal: '<= 450 B',
        pass: ours.perSession <= 450,
        note: 'one session per user: every Tessera session also pays for its own per-user index',
      },
    ],
    metrics: {
      'target6.tessera.perSession': { unit: 'B', summary: one(ours.perSession) },
      'target6.tessera.sessionKey': { unit: 'B', summary: one(ours.sessionKey) },
      'target6.tessera.indexKey': { unit: 'B', summary: one(ours.indexKey) },
      'target6.peer.perSession': { unit: 'B', summary: one(peer.perSession) },
      'target6.peer.sessionKey': { unit: 'B', summary: one(peer.sessionKey) },
    },
    panels: [
      {
        title: 'Redis memory per session, all in',
        unit: 'B',
        better: 'lower',
        bars: [
          { label: 'Tessera (with user index)', who: 'tessera', summary: one(ours.perSession) },
          { label: 'connect-redis', who: 'peer', summary: one(peer.perSession) },
        ],
      },
    ],
    facts: { target6: { sessions: n, tessera: ours, peer } },
  };
}
