/**
 * The long-lived processes most targets share: one private redis-server, the Tessera server on it,
 * the peer app on the same Redis, and a signed-in session on each.
 */
import type { BenchOptions } from './args.js';
import { type Peer, startPeer } from './peer.js';
import { step } from './progress.js';
import { type RedisServer, startRedis } from './redis.js';
import { type Account, randomAccount, startTessera, type Tessera } from './tessera.js';

export interface Stack {
  redis: RedisServer;
  tessera: Tessera;
  peer: Peer;
  /** The account whose session the authenticated requests carry. */
  account: Account;
  /** A second account for the login storm (its logins must not evict the measured session). */
  stormAccount: Account;
  /** `Cookie` header values. */
  tesseraCookie: string;
  /** A second session of `account`, bound to a device key (DBSC): its session and bound cookies. */
  tesseraBoundCookie: string;
  peerCookie: string;
  stop(): Promise<void>;
}

export async function startStack(options: BenchOptions): Promise<Stack> {
  const redis = await startRedis('redis');
  step(`redis-server on port ${redis.port} (pid ${redis.pid})`);
  const account = randomAccount('reader');
  const stormAccount = randomAccount('storm');
  const tessera = await startTessera({
    redisUrl: redis.url,
    accounts: [account, stormAccount],
    logLevel: options.serverLogLevel,
  });
  step(
    `tessera server at ${tessera.url} (pid ${tessera.pid}, NODE_ENV=production, LOG_LEVEL=${options.serverLogLevel})`,
  );
  const peer = await startPeer(redis.url);
  step(`peer (express + express-session + connect-redis) at ${peer.url} (pid ${peer.pid})`);
  const tesseraCookie = await tessera.login(account);
  const tesseraBoundCookie = await tessera.loginBound(account);
  const peerCookie = await peer.login('user-1', 'user');
  return {
    redis,
    tessera,
    peer,
    account,
    stormAccount,
    tesseraCookie,
    tesseraBoundCookie,
    peerCookie,
    async stop() {
      await Promise.all([tessera.stop(), peer.stop()]);
      await redis.stop();
    },
  };
}
