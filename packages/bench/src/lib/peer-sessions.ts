/**
 * What express-session + connect-redis keep per session, built with their own classes: a JSON string
 * at `sess:<sid>` holding the cookie (express-session's Cookie) and the app's fields, with a TTL.
 */
import { randomBytes } from 'node:crypto';
import { RedisStore } from 'connect-redis';
import session from 'express-session';
import { createClient } from 'redis';
import { IPV4, USER_AGENT } from './sessions.js';

export const PEER_TTL_S = 24 * 60 * 60;
export const PEER_PREFIX = 'sess:';

export async function nodeRedis(url: string) {
  const client = createClient({ url });
  client.on('error', () => {});
  await client.connect();
  return client;
}

export type NodeRedis = Awaited<ReturnType<typeof nodeRedis>>;

/** A session id as express-session makes them (uid-safe, 24 bytes, base64url: 32 characters). */
export const peerSessionId = () => randomBytes(24).toString('base64url');

/** The session object express-session hands the store: cookie + the fields the peer app sets. */
export function peerSession(userId: string): session.SessionData {
  // express-session builds it as `new Cookie(options)`; its typings omit that constructor.
  const Cookie = session.Cookie as unknown as new (options: session.CookieOptions) => session.Cookie;
  const cookie = new Cookie({
    maxAge: PEER_TTL_S * 1000,
    httpOnly: true,
    sameSite: 'lax',
    secure: false,
    path: '/',
  });
  return { cookie, userId, role: 'user', userAgent: USER_AGENT, ip: IPV4 } as session.SessionData;
}

export function peerStore(client: NodeRedis): RedisStore {
  return new RedisStore({ client, prefix: PEER_PREFIX, ttl: PEER_TTL_S });
}

/** Writes `n` sessions through connect-redis's own `set`; returns their ids. */
export async function createPeerSessions(store: RedisStore, n: number, concurrency = 100): Promise<string[]> {
  const ids: string[] = new Array(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, n) }, async () => {
      while (next < n) {
        const i = next++;
        const sid = peerSessionId();
        await store.set(sid, peerSession(`user-${i}`));
        ids[i] = sid;
      }
    }),
  );
  return ids;
}
