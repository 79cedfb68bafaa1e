/**
 * redisStore's `waitForReplicas` on a real Redis Cluster with replicas (3 masters, 1 replica each):
 *  - WAIT runs on the node that owns the session's slot (a detached replica fails only its own shard);
 *  - the window it closes is real: with the replica cut off, a revoke the master acknowledged is gone
 *    after the replica's promotion and the session validates again; with waitForReplicas the same
 *    revoke is not acknowledged (it fails), and every revoke that was acknowledged stays revoked;
 *  - what it costs on a healthy cluster (printed);
 *  - on a single Redis too (the same pipeline), and its option checks.
 */
import { startRedis, startRedisCluster, type TestRedis, type TestRedisCluster } from '@tessera/testkit';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SessionConfigError, SessionStoreError } from '../src/errors.js';
import { createSessionManager } from '../src/manager.js';
import type { SessionStore } from '../src/store.js';
import { redisKeys, redisStore } from '../src/stores/redis/index.js';
import { ReplicaShortfall } from '../src/stores/redis/replica-wait.js';
import { newSession, newUser, POLICY, T0, TAG_SECRET } from './helpers/redis-store-suite.js';

// Generous (a loaded machine may not schedule a healthy replica within 100 ms: a shortfall here must
// mean a replica that was cut off), yet below the client's per-command timeout, which WAIT counts in.
const WAIT = { replicas: 1, timeoutMs: 500 };
const LIMIT = { max: 10, onLimit: 'evict-oldest' } as const;
const keys = redisKeys({ tagSecret: TAG_SECRET });

let cluster: TestRedisCluster;
let client: Cluster;
let plain: SessionStore;
let waiting: SessionStore;

beforeAll(async () => {
  cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1, nodeTimeoutMs: 1_000 });
  client = new Cluster(cluster.nodes, { redisOptions: { commandTimeout: 1_000 } });
  await new Promise<void>((resolve, reject) => {
    client.once('ready', () => resolve());
    client.once('error', reject);
  });
  plain = redisStore({ client, tagSecret: TAG_SECRET });
  waiting = redisStore({ client, tagSecret: TAG_SECRET, waitForReplicas: WAIT });
}, 60_000);

afterAll(async () => {
  client?.disconnect();
  await cluster?.stop();
});

/** A live session whose slot `master` serves (new users until one lands there). */
async function sessionOn(master: TestRedis, store: SessionStore) {
  for (;;) {
    const s = newSession(newUser());
    const slot = await cluster.slotOf(keys.session(s.id));
    if ((await cluster.shardOf(slot)).master !== master) continue;
    expect((await store.create({ session: s.session, limit: LIMIT, now: T0, policy: POLICY })).ok).toBe(true);
    return { ...s, slot };
  }
}

const masters = async () =>
  [
    ...new Set(
      await Promise.all([0, 5_500, 11_000].map(async (slot) => (await cluster.shardOf(slot)).master)),
    ),
  ] as TestRedis[];

/** Retries while the cluster client is still catching up with the promotion. */
async function eventually<T>(what: string, call: () => Promise<T>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await call();
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`${what}: ${(error as Error).message}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

describe('redisStore waitForReplicas on a Redis Cluster with replicas', () => {
  it('waits on the node that owns the slot: a detached replica fails its own shard only', async () => {
    const all = await masters();
    expect(all).toHaveLength(3);
    for (const detached of all) {
      const sessions = await Promise.all(all.map((m) => sessionOn(m, waiting)));
      const { replicas } = await cluster.shardOf(sessions[all.indexOf(detached)]!.slot);
      const hold = await cluster.detachReplica(replicas[0]!);
      try {
        const outcomes = await Promise.allSettled(
          sessions.map((s) =>
            waiting.revoke({
              userId: s.session.userId,
              id: s.id,
              reason: 'revoked',
              now: T0 + 1,
              policy: POLICY,
            }),
          ),
        );
        outcomes.forEach((outcome, i) => {
          if (all[i] === detached) {
            expect(outcome.status).toBe('rejected');
            const error = (outcome as PromiseRejectedResult).reason;
            expect(error).toBeInstanceOf(ReplicaShortfall);
            expect(error.message).toMatch(/WAIT: 0 of 1 replica/);
          } else {
            expect(outcome.status, String((outcome as PromiseRejectedResult).reason)).toBe('fulfilled');
            expect((outcome as PromiseFulfilledResult<unknown>).value).not.toBeNull();
          }
        });
      } finally {
        hold.release();
      }
      await cluster.waitUntilHealthy();
    }
  }, 30_000);

  it('costs one replica acknowledgement per ending write (printed)', async () => {
    const [master] = await masters();
    const timings: Record<string, number[]> = { plain: [], waiting: [] };
    for (let i = 0; i < 60; i++) {
      for (const [name, store] of [
        ['plain', plain],
        ['waiting', waiting],
      ] as const) {
        const s = await sessionOn(master!, store);
        const start = performance.now();
        expect(
          await store.revoke({
            userId: s.session.userId,
            id: s.id,
            reason: 'revoked',
            now: T0 + 1,
            policy: POLICY,
          }),
        ).not.toBeNull();
        timings[name]!.push(performance.now() - start);
      }
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const p95 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.95)]!;
    console.log(
      `revoke on a healthy cluster: plain median ${median(timings.plain!).toFixed(2)} ms, p95 ` +
        `${p95(timings.plain!).toFixed(2)} ms; with WAIT 1 median ${median(timings.waiting!).toFixed(2)} ms, ` +
        `p95 ${p95(timings.waiting!).toFixed(2)} ms`,
    );
    // Never the timeout: a healthy replica acknowledges at once.
    expect(median(timings.waiting!)).toBeLessThan(WAIT.timeoutMs);
  }, 30_000);

  it('a revoke acknowledged just before the master dies: lost without WAIT, never with it', async () => {
    const [first, second] = await masters();

    // Without waitForReplicas: the replica is cut off, the master acknowledges, then dies.
    const lost = await sessionOn(first!, plain);
    const shardA = await cluster.shardOf(lost.slot);
    let hold = await cluster.detachReplica(shardA.replicas[0]!);
    expect(
      await plain.revoke({
        userId: lost.session.userId,
        id: lost.id,
        reason: 'revoked',
        now: T0 + 1,
        policy: POLICY,
      }),
    ).not.toBeNull();
    await first!.kill();
    hold.release();
    expect(await cluster.waitForFailover(lost.slot, first!)).toBe(shardA.replicas[0]);
    const back = await eventually('validate after failover', () =>
      plain.validate({ id: lost.id, tokenHash: lost.hash, now: T0 + 2, policy: POLICY }),
    );
    expect(back.ok, 'the acknowledged revoke was lost: the session is live again').toBe(true);

    // With waitForReplicas: what was acknowledged stays; what could not be is reported as failed.
    const acknowledged = await sessionOn(second!, waiting);
    const cutOff = await sessionOn(second!, waiting);
    const shardB = await cluster.shardOf(cutOff.slot);
    const revoke = (s: typeof cutOff) =>
      waiting.revoke({ userId: s.session.userId, id: s.id, reason: 'revoked', now: T0 + 1, policy: POLICY });
    expect(await revoke(acknowledged)).not.toBeNull();
    hold = await cluster.detachReplica(shardB.replicas[0]!);
    await expect(revoke(cutOff)).rejects.toThrow(/WAIT: 0 of 1 replica/);
    await second!.kill();
    hold.release();
    expect(await cluster.waitForFailover(cutOff.slot, second!)).toBe(shardB.replicas[0]);
    const after = await eventually('validate after failover', () =>
      waiting.validate({ id: acknowledged.id, tokenHash: acknowledged.hash, now: T0 + 2, policy: POLICY }),
    );
    expect(after).toMatchObject({ ok: false, reason: 'revoked' });
    // The one that failed is live on the promoted replica, as its caller was told.
    expect(
      (await waiting.validate({ id: cutOff.id, tokenHash: cutOff.hash, now: T0 + 2, policy: POLICY })).ok,
    ).toBe(true);
    // The promoted master has no replica of its own: ending writes there fail closed until one is back.
    const orphan = await sessionOn(shardB.replicas[0]!, waiting);
    await expect(revoke(orphan)).rejects.toThrow(/WAIT: 0 of 1 replica/);
    // The old masters come back empty and rejoin as replicas; then the retried revoke is acknowledged.
    await Promise.all([first!.start(), second!.start()]);
    await cluster.waitUntilHealthy();
    expect((await cluster.shardOf(cutOff.slot)).replicas).toEqual([second]);
    expect(await revoke(cutOff)).not.toBeNull();
    expect(
      await waiting.validate({ id: cutOff.id, tokenHash: cutOff.hash, now: T0 + 3, policy: POLICY }),
    ).toMatchObject({
      ok: false,
      reason: 'revoked',
    });
  }, 40_000);
});

describe('redisStore waitForReplicas on a single Redis', () => {
  it('fails a write that ended something when no replica holds it, not one that ended nothing', async () => {
    const redis = await startRedis();
    const own = new Redis(redis.url);
    try {
      const store = redisStore({
        client: own,
        tagSecret: TAG_SECRET,
        waitForReplicas: { replicas: 1, timeoutMs: 20 },
      });
      const s = newSession(newUser());
      expect((await store.create({ session: s.session, limit: LIMIT, now: T0, policy: POLICY })).ok).toBe(
        true,
      ); // evicted none
      const end = store.logout({ id: s.id, tokenHash: s.hash, now: T0 + 1, policy: POLICY });
      await expect(end).rejects.toBeInstanceOf(ReplicaShortfall);
      await expect(end).rejects.toThrow(/WAIT: 0 of 1 replica/);
      // It is on the master all the same: the session is over, and ending it again ends nothing.
      expect(await store.logout({ id: s.id, tokenHash: s.hash, now: T0 + 2, policy: POLICY })).toBeNull();
      // Through the manager the shortfall is a store failure like any other: SessionStoreError, a 503.
      const sessions = createSessionManager({ store });
      const { token } = await sessions.create({ userId: newUser() });
      const error = await sessions.logout(token).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SessionStoreError);
      expect(error).toMatchObject({ code: 'STORE_UNAVAILABLE', cause: expect.any(ReplicaShortfall) });
      expect((error as Error).message).toMatch(/^redis store: logout failed: WAIT: 0 of 1 replica/);
    } finally {
      own.disconnect();
      await redis.stop();
    }
  });

  it('checks the option', () => {
    const client = new Redis({ lazyConnect: true });
    const make = (waitForReplicas: unknown) =>
      redisStore({ client, tagSecret: TAG_SECRET, waitForReplicas: waitForReplicas as never });
    for (const bad of [
      { replicas: 1, timeoutMs: 0 },
      { replicas: -1, timeoutMs: 10 },
      { replicas: 1.5, timeoutMs: 10 },
      {},
    ]) {
      expect(() => make(bad), JSON.stringify(bad)).toThrow(SessionConfigError);
    }
    expect(() => make({ replicas: 0, timeoutMs: 10 })).not.toThrow();
    client.disconnect();
  });
});
