// express-session-migration.ts: moves a user still signed in through express-session + connect-redis to
// a Tessera session on their next request, once. Copy it into your app; delete it once the old cookies'
// maxAge has passed since the switch.
import { createHmac, timingSafeEqual } from 'node:crypto';
import {
  blankCookie,
  type IssuedSession,
  type RevokeReason,
  readCookie,
  type Session,
  type SessionManager,
  serializeCookie,
} from '@tessera/session-core';

/** What connect-redis kept under `sess:<sid>`: express-session's JSON, `cookie` and what the app put. */
export interface OldSession {
  cookie?: { expires?: string | null };
  passport?: { user?: unknown };
  [key: string]: unknown;
}

/** The Redis commands used (ioredis has them; wrap node-redis, e.g. `getdel: (k) => client.getDel(k)`). */
export interface OldSessionRedis {
  get(key: string): Promise<string | null>;
  /** Redis >= 6.2. */
  getdel(key: string): Promise<string | null>;
  set(key: string, value: string, mode: 'EX', seconds: number): Promise<unknown>;
}

export interface ExpressSessionMigrationOptions<TData extends object> {
  sessions: Pick<SessionManager<TData>, 'create' | 'logout' | 'revokeAll'>;
  /** The Redis connect-redis wrote to. */
  redis: OldSessionRedis;
  /** express-session's `secret`: all of them (it signed with the first and accepted every one). */
  secrets: readonly string[];
  /** How long an old session could live, in seconds: `cookie.maxAge` (else connect-redis's `ttl`). */
  maxAgeSeconds: number;
  /** Where the old session kept the user. Default: `passport.user`, else `userId`. Nothing: no migration. */
  userId?: (old: OldSession) => unknown;
  /** What of the old session becomes Tessera session data. Default: nothing. */
  data?: (old: OldSession) => TData;
  /** connect-redis's `prefix`. Default `'sess:'`. */
  prefix?: string;
  /** express-session's cookie: its `name` (default `'connect.sid'`) and `cookie.secure` (default false). */
  cookie?: { name?: string; secure?: boolean };
}

export interface Migrated<TData extends object> {
  session: Session<TData>;
  /** The new token (it is in the Tessera cookie of `setCookie`). */
  token: string;
  /** `Set-Cookie` values to add to the response: the Tessera cookie, and one clearing the old cookie. */
  setCookie: string[];
}

/**
 * The session id in express-session's cookie when its signature holds under one of `secrets`, else null.
 * The cookie is `s:<sid>.<signature>`, URL-encoded; the signature is HMAC-SHA256(secret, sid) in base64
 * without '=' padding (the cookie-signature package). An unsigned id is refused, as express-session does.
 */
export function unsignSessionId(cookieValue: string, secrets: readonly string[]): string | null {
  let value: string;
  try {
    value = decodeURIComponent(cookieValue);
  } catch {
    return null;
  }
  const dot = value.lastIndexOf('.');
  if (!value.startsWith('s:') || dot <= 2) return null;
  const sid = value.slice(2, dot);
  const given = Buffer.from(value.slice(dot + 1));
  for (const secret of secrets) {
    const mac = createHmac('sha256', secret).update(sid).digest('base64').replace(/=+$/, '');
    const expected = Buffer.from(mac);
    // Constant time: a timing difference here would let a forger learn the signature byte by byte.
    if (expected.length === given.length && timingSafeEqual(expected, given)) return sid;
  }
  return null;
}

export function expressSessionMigration<TData extends object>(
  options: ExpressSessionMigrationOptions<TData>,
) {
  const { sessions, redis, secrets, maxAgeSeconds, prefix = 'sess:' } = options;
  if (secrets.length === 0 || secrets.some((secret) => !secret))
    throw new TypeError('secrets: the non-empty secrets express-session was given');
  const userIdOf = options.userId ?? ((old: OldSession) => old.passport?.user ?? old.userId);
  const cookieName = options.cookie?.name ?? 'connect.sid';
  const clearOld = serializeCookie(
    blankCookie({ name: cookieName, secure: options.cookie?.secure ?? false, sameSite: 'lax' }),
  );
  // express-session keeps no per-user index, so "end all of a user's old sessions" is a marker that
  // refuses their migration; it lives as long as an old session can.
  const revokedKey = (userId: string) => `tessera-migration:revoked:${userId}`;

  return {
    /**
     * For a request without a Tessera cookie: when it carries a validly signed express-session cookie
     * whose session names a user, creates a Tessera session for that user and ends the old one.
     * Otherwise null, and nothing changed.
     */
    async migrate(request: {
      cookie: string | null | undefined;
      userAgent?: string | null;
      ip?: string | null;
    }): Promise<Migrated<TData> | null> {
      const read = readCookie(request.cookie, cookieName);
      if (read.status !== 'found') return null;
      const sid = unsignSessionId(read.value, secrets);
      if (!sid) return null;
      const key = prefix + sid;
      const json = await redis.get(key);
      if (!json) return null; // expired, logged out, or migrated already
      let old: OldSession;
      try {
        old = JSON.parse(json) as OldSession;
      } catch {
        return null;
      }
      const expires = old.cookie?.expires ? Date.parse(old.cookie.expires) : Number.NaN;
      if (expires <= Date.now()) return null;
      const id = userIdOf(old);
      if (typeof id !== 'number' && (typeof id !== 'string' || id === '')) return null; // never signed in
      const userId = String(id);
      const revoked = async () => (await redis.get(revokedKey(userId))) !== null;
      if (await revoked()) return null;

      // Claim it: of parallel requests carrying this cookie only one gets it, so one old session makes
      // one new one (creating several would spend the user's session limit and could evict the winner).
      if ((await redis.getdel(key)) === null) return null;
      let created: IssuedSession<TData>;
      try {
        created = await sessions.create({
          userId,
          data: options.data?.(old),
          userAgent: request.userAgent,
          ip: request.ip,
        });
      } catch (error) {
        // The store is down (a 503) or refused: give the old session back, so a later request retries.
        const ttl = Number.isNaN(expires) ? maxAgeSeconds : Math.ceil((expires - Date.now()) / 1000);
        if (ttl > 0) await redis.set(key, json, 'EX', ttl).catch(() => {});
        throw error;
      }
      // Again after create: a revokeAll racing this request either sees the new session or is seen.
      if (await revoked()) {
        await sessions.logout(created.token);
        return null;
      }
      return {
        session: created.session,
        token: created.token,
        setCookie: [serializeCookie(created.cookie), clearOld],
      };
    },

    /**
     * `sessions.revokeAll` that reaches the user's old sessions too (after a password change, say): use
     * it instead while the shim is in place. The marker comes first so no old session migrates past it.
     */
    async revokeAll(userId: string, revokeOptions?: { except?: string; reason?: RevokeReason }) {
      await redis.set(revokedKey(userId), '1', 'EX', maxAgeSeconds);
      return sessions.revokeAll(userId, revokeOptions);
    },
  };
}
