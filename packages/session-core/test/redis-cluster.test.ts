import { startRedisCluster, type TestRedisCluster } from '@tessera/testkit';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisKeys, redisStore } from '../src/stores/redis/index.js';
import { runSessionStoreContract } from '../src/testing/index.js';
import {
  newSession,
  newUser,
  POLICY,
  redisStoreSuite,
  type SuiteEnv,
  T0,
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
      store: redisStore({ client: own, prefix: 'contract:' }),
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
    const keys = redisKeys();
    const store = redisStore({ client });
    const slotsByNode = new Map<string, number>();
    for (let n = 0; n < 30; n++) {
      const user = newUser();
      const s = newSession(user);
      await store.create(s.session, { max: 3, onLimit: 'evict-oldest' }, T0, POLICY);
      const slot = await client.cluster('KEYSLOT', keys.session(s.id));
      expect(await client.cluster('KEYSLOT', keys.userIndex(user))).toBe(slot);
      // The script really ran where both keys live: the session validates and the index lists it.
      expect((await store.validate(s.id, s.hash, T0 + 1, POLICY)).ok).toBe(true);
      expect((await store.list(user, T0 + 1, POLICY)).map((x) => x.id)).toEqual([s.id]);
      // Ending by deadline touches the index key the script derived itself (same slot, not in KEYS).
      await store.validate(s.id, s.hash, T0 + POLICY.idleMs + 1, POLICY);
      expect(await client.zcard(keys.userIndex(user))).toBe(0);
      const node = client.slots[slot as number]?.[0] ?? '?';
      slotsByNode.set(node, (slotsByNode.get(node) ?? 0) + 1);
    }
    expect(slotsByNode.size).toBe(3);
  });
});
