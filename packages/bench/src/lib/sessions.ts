/**
 * Session fixtures shared by the in-process targets: a session manager on a client configured like
 * the server's (fail fast, no offline queue), a realistic user agent, and hot sessions to validate.
 */
import { randomBytes } from 'node:crypto';
import { createSessionManager, type SessionManager, type SessionStore } from '@tessera/session-core';
import { Cluster, Redis, type RedisOptions } from 'ioredis';

/** A real browser user agent, exactly 110 characters (target 6 asks for that length). */
export const USER_AGENT =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/99.0.0.0 Safari/537.36';
export const IPV4 = '203.0.113.57';
/** The Redis store's shard-tag key for this run (a deployment keeps one; a run only needs one). */
export const TAG_SECRET = randomBytes(32);
export const ROLE_DATA = { role: 'user' } as const;

/**
 * The options apps/server/src/infra/redis.ts uses, so the client behaves as in production, except
 * auto-pipelining (the server enables it): target 4 measures what one call costs, and batching would
 * blur that (with it on, validate ran at 0.31x a trivial EVALSHA, which batches perfectly).
 */
export const SERVER_LIKE: RedisOptions = {
  enableOfflineQueue: false,
  commandTimeout: 1_000,
  connectTimeout: 2_000,
  maxRetriesPerRequest: 1,
};

export async function readyClient(url: string): Promise<Redis> {
  const client = new Redis(url, { ...SERVER_LIKE, lazyConnect: true });
  await client.connect();
  return client;
}

export async function readyCluster(nodes: { host: string; port: number }[]): Promise<Cluster> {
  const client = new Cluster(nodes, {
    enableOfflineQueue: false,
    redisOptions: SERVER_LIKE,
    lazyConnect: true,
  });
  await client.connect();
  return client;
}

export function managerOn(store: SessionStore): SessionManager {
  // Defaults as the server runs them: 30 min idle, 24 h absolute, 3 per user.
  return createSessionManager({ store });
}

/** `n` sessions of `n` users, created `concurrency` at a time; returns their tokens. */
export async function createHotSessions(
  sessions: SessionManager,
  n: number,
  label = 'hot',
  concurrency = 100,
): Promise<string[]> {
  const tokens: string[] = new Array(n);
  const run = randomBytes(3).toString('hex');
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, n) }, async () => {
      while (next < n) {
        const i = next++;
        const issued = await sessions.create({
          userId: `${label}-${run}-${i}`,
          data: { ...ROLE_DATA },
          userAgent: USER_AGENT,
          ip: IPV4,
        });
        tokens[i] = issued.token;
      }
    }),
  );
  return tokens;
}

/** An op for inprocRun: validates the tokens round-robin and insists that each is live. */
export function validateOp(sessions: SessionManager, tokens: string[]) {
  return async (i: number) => {
    const result = await sessions.validate(tokens[i % tokens.length]!);
    if (!result.session) throw new Error(`validate: a hot session read as ${result.reason}`);
  };
}
