import { startRedisCluster, type TestRedisCluster } from '@tessera/testkit';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSessionManager } from '../src/manager.js';
import { redisKeys, redisStore } from '../src/stores/redis/index.js';
import { runSessionStoreContract } from '../src/testing/index.js';
import {
  newSession,
  newUser,
  POLICY,
  redisStoreSuite,
  type SuiteEnv,
  T0,
  TAG_SECRET,
} from './helpers/redis-store-suite.js';

// One private 3-master cluster for the whole file (the contract and the Redis-specific suite).
let cluster: TestRedisCluster;
let client: Cluster;

async function connect(nodes: { host: string; port: number }[]): Promise<Cluster> {
  const c = new Cluster(nodes, { enableReadyCheck: true });
  await new Promise<void>((resolve, reject) => {
    c.once('ready', () => resolve());
    c.once('error', reject);
  });
  return c;
}

beforeAll(async () => {
  cluster = await startRedisCluster(3);
  client = await connect(cluster.nodes);
});

afterAll(async () => {
  client?.disconnect();
  await cluster?.stop();
});

runSessionStoreContract({
  name: 'redis cluster',
  setup: async () => {
    const own = await connect(cluster.nodes);
    return {
      store: redisStore({ client: own, prefix: 'contract:', tagSecret: TAG_SECRET }),
      teardown: async () => own.disconnect(),
    };
  },
  test: { describe, it, beforeAll, afterAll },
});

redisStoreSuite(
  'a 3-master cluster',
  (): SuiteEnv => ({
    client,
    flushScripts: async () => {
      await Promise.all(client.nodes('master').map((node) => node.script('FLUSH')));
    },
  }),
);

describe('redisStore on Redis Cluster', () => {
  it('keeps every key of one user in one slot, and spreads users over the masters', async () => {
    const keys = redisKeys({ tagSecret: TAG_SECRET });
    const store = redisStore({ client, tagSecret: TAG_SECRET });
    const slotsByNode = new Map<string, number>();
    for (let n = 0; n < 30; n++) {
      const user = newUser();
      const s = newSession(user);
      await store.create({
        session: s.session,
        limit: { max: 3, onLimit: 'evict-oldest' },
        now: T0,
        policy: POLICY,
      });
      const slot = await client.cluster('KEYSLOT', keys.session(s.id));
      expect(await client.cluster('KEYSLOT', keys.userIndex(user))).toBe(slot);
      // The script really ran where both keys live: the session validates and the index lists it.
      expect((await store.validate({ id: s.id, tokenHash: s.hash, now: T0 + 1, policy: POLICY })).ok).toBe(
        true,
      );
      expect((await store.list({ userId: user, now: T0 + 1, policy: POLICY })).map((x) => x.id)).toEqual([
        s.id,
      ]);
      // Ending by deadline touches the index key the script derived itself (same slot, not in KEYS).
      await store.validate({ id: s.id, tokenHash: s.hash, now: T0 + POLICY.idleMs + 1, policy: POLICY });
      expect(await client.zcard(keys.userIndex(user))).toBe(0);
      const node = client.slots[slot as number]?.[0] ?? '?';
      slotsByNode.set(node, (slotsByNode.get(node) ?? 0) + 1);
    }
    expect(slotsByNode.size).toBe(3);
  });

  it("keeps every session of a user in the index's slot, across a restart with the same tag secret", async () => {
    const keys = redisKeys({ tagSecret: TAG_SECRET });
    // Two managers over two stores: the second stands for the process after a restart.
    const [before, after] = [TAG_SECRET, Buffer.from(TAG_SECRET)].map((tagSecret) =>
      createSessionManager({ store: redisStore({ client, tagSecret }), maxSessionsPerUser: 10 }),
    );
    for (let n = 0; n < 10; n++) {
      const user = newUser();
      const ids: string[] = [];
      for (const manager of [before, after, before, after]) {
        ids.push((await manager!.create({ userId: user })).session.id);
      }
      const slot = await client.cluster('KEYSLOT', keys.userIndex(user));
      for (const id of ids) expect(await client.cluster('KEYSLOT', keys.session(id))).toBe(slot);
      expect((await after!.list(user)).map((s) => s.id).sort()).toEqual([...ids].sort());
      expect(await before!.revokeAll(user)).toBe(4);
    }
  });
});
