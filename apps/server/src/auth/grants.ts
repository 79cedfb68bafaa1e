/**
 * Grants: short-lived, server-side proofs of a partial sign-in, referenced by a random token.
 *  - `mfa`: the password was right, a TOTP code is still due (5 attempts, 10 minutes). Its token
 *    travels in its own httpOnly cookie; it is not a session and opens nothing else.
 *  - `limit`: every factor passed but the user is at the session limit under the `reject` policy. Its
 *    token (the "ticket", in the CONFLICT error body) lets the user end one session and sign in:
 *    single use, bound to the user, 5 minutes.
 * They live where the sessions live (Redis when configured, else the database) so that any instance
 * can finish what another one started. Only SHA-256(kind:token) is stored.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import type { Database } from '../infra/database.js';
import { redisCall } from '../infra/redis-call.js';

export type GrantKind = 'mfa' | 'limit';

export interface Grant {
  userId: string;
  payload: Record<string, unknown>;
  /** Attempts counted so far, this one included (for `attempt`). */
  attempts: number;
}

export interface IssueGrant {
  userId: string;
  payload: Record<string, unknown>;
  ttlMs: number;
  /** How many `attempt` calls the grant survives. */
  maxAttempts: number;
}

export interface GrantStore {
  /** Stores a new grant and returns its token (256 random bits, base64url). */
  issue(kind: GrantKind, grant: IssueGrant): Promise<string>;
  /** Counts one attempt. The grant while it has attempts left and hasn't expired, else null. */
  attempt(kind: GrantKind, token: string): Promise<Grant | null>;
  /** Single use: removes the grant and returns it (null when it was gone, expired or used up). */
  take(kind: GrantKind, token: string): Promise<Grant | null>;
  /** Deletes expired grants where nothing else does (SQL). */
  sweep(now: number): Promise<number>;
}

const TOKEN = /^[A-Za-z0-9_-]{43}$/;

const newToken = () => randomBytes(32).toString('base64url');
const digest = (kind: GrantKind, token: string) => createHash('sha256').update(`${kind}:${token}`).digest();

// -- Redis -----------------------------------------------------------------------------------------
// One hash per grant at `<prefix>g:<hex digest>`: u = userId, p = payload JSON, n = attempts, m = max.
// Each script touches one key, so it runs on Redis Cluster too.

/** Creates the grant with its TTL, atomically. */
const ISSUE = `redis.call('HSET', KEYS[1], 'u', ARGV[1], 'p', ARGV[2], 'n', 0, 'm', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1`;

/** Counts an attempt; past the maximum the grant is deleted, so a guesser can't go on. */
const ATTEMPT = `local v = redis.call('HMGET', KEYS[1], 'u', 'p', 'm')
if not v[1] then return false end
local n = redis.call('HINCRBY', KEYS[1], 'n', 1)
if n > tonumber(v[3]) then redis.call('DEL', KEYS[1]) return false end
return {v[1], v[2], n}`;

/** Read-and-delete in one step: of two concurrent takers exactly one gets the grant. */
const TAKE = `local v = redis.call('HMGET', KEYS[1], 'u', 'p', 'n', 'm')
if not v[1] then return false end
redis.call('DEL', KEYS[1])
if tonumber(v[3]) > tonumber(v[4]) then return false end
return {v[1], v[2], tonumber(v[3])}`;

function fromReply(reply: unknown): Grant | null {
  if (!Array.isArray(reply)) return null;
  const [userId, payload, attempts] = reply as [string, string, number];
  return { userId, payload: JSON.parse(payload) as Record<string, unknown>, attempts: Number(attempts) };
}

export function redisGrantStore(client: Redis | Cluster, prefix = 'tessera:'): GrantStore {
  const key = (kind: GrantKind, token: string) => `${prefix}g:${digest(kind, token).toString('hex')}`;
  return {
    async issue(kind, g) {
      const token = newToken();
      await redisCall('grant issue', () =>
        client.eval(ISSUE, 1, key(kind, token), g.userId, JSON.stringify(g.payload), g.maxAttempts, g.ttlMs),
      );
      return token;
    },
    async attempt(kind, token) {
      if (!TOKEN.test(token)) return null;
      return fromReply(await redisCall('grant attempt', () => client.eval(ATTEMPT, 1, key(kind, token))));
    },
    async take(kind, token) {
      if (!TOKEN.test(token)) return null;
      return fromReply(await redisCall('grant take', () => client.eval(TAKE, 1, key(kind, token))));
    },
    // Redis expires grants by itself.
    sweep: async () => 0,
  };
}

// -- SQL (PostgreSQL or PGlite) -------------------------------------------------------------------

function fromRow(row: Record<string, unknown> | undefined): Grant | null {
  if (!row) return null;
  const payload = typeof row.payload === 'string' ? JSON.parse(row.payload) : row.payload;
  return {
    userId: String(row.user_id),
    payload: payload as Record<string, unknown>,
    attempts: Number(row.attempts),
  };
}

export function sqlGrantStore(db: Database, clock: () => number = Date.now): GrantStore {
  return {
    async issue(kind, g) {
      const token = newToken();
      await db.query(
        `INSERT INTO tessera_auth_grants (token_hash, user_id, payload, max_attempts, expires_at)
         VALUES ($1, $2, $3::jsonb, $4, $5)`,
        [digest(kind, token), g.userId, JSON.stringify(g.payload), g.maxAttempts, clock() + g.ttlMs],
      );
      return token;
    },
    async attempt(kind, token) {
      if (!TOKEN.test(token)) return null;
      // One statement: the row lock serializes concurrent attempts, so none is lost.
      const rows = await db.query(
        `UPDATE tessera_auth_grants SET attempts = attempts + 1
         WHERE token_hash = $1 AND expires_at > $2
         RETURNING user_id, payload, attempts, max_attempts`,
        [digest(kind, token), clock()],
      );
      const row = rows[0];
      if (row && Number(row.attempts) > Number(row.max_attempts)) {
        await db.query('DELETE FROM tessera_auth_grants WHERE token_hash = $1', [digest(kind, token)]);
        return null;
      }
      return fromRow(row);
    },
    async take(kind, token) {
      if (!TOKEN.test(token)) return null;
      const rows = await db.query(
        `DELETE FROM tessera_auth_grants
         WHERE token_hash = $1 AND expires_at > $2 AND attempts <= max_attempts
         RETURNING user_id, payload, attempts`,
        [digest(kind, token), clock()],
      );
      return fromRow(rows[0]);
    },
    async sweep(now) {
      const rows = await db.query('DELETE FROM tessera_auth_grants WHERE expires_at <= $1 RETURNING 1', [
        now,
      ]);
      return rows.length;
    },
  };
}
