import { createHash, hash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Token format: `<id>.<secret>`
 *  - id: the session's public id, 26 base64url characters: shown in session lists and used to revoke.
 *    By default it is 152 random bits. A store that must place a user's sessions together makes the
 *    ids itself (`SessionStore.newSessionId`): the Redis store puts a 4-character shard tag in front of
 *    128 random bits, keyed with a server-side secret (./stores/redis/shard-tag.ts), so that a Redis
 *    Cluster keeps all of one user's keys in one hash slot while validating from the token alone.
 *  - secret: 256 random bits from the CSPRNG (43 base64url characters).
 * Stores only ever receive the public id and SHA-256(token). A dump of a store can't be replayed as a
 * cookie, and knowing the public id doesn't help: the secret is never stored. (Lucia's current guide
 * uses the same split; OWASP Session Management Cheat Sheet: >= 64 bits of entropy, we use 256.)
 */
export const SESSION_ID_LENGTH = 26;
export const SECRET_LENGTH = 43;
export const TOKEN_LENGTH = SESSION_ID_LENGTH + 1 + SECRET_LENGTH;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

export interface ParsedToken {
  id: string;
  hash: Uint8Array;
}

/** A session id for stores that don't shard by user: 19 random bytes, 26 base64url characters. */
export function randomSessionId(): string {
  return randomBytes(19).toString('base64url');
}

/** A session id that opens with `prefix` (4 base64url characters) followed by 128 random bits. */
export function prefixedSessionId(prefix: string): string {
  return prefix + randomBytes(16).toString('base64url');
}

export function hashToken(token: string): Uint8Array {
  // crypto.hash (Node >= 20.12): one call and no Hash object, on the path of every request.
  return hash('sha256', token, 'buffer');
}

/** A fresh token for this session id (the id survives rotation; the secret does not). */
export function newToken(id: string): { token: string; hash: Uint8Array } {
  const token = `${id}.${randomBytes(32).toString('base64url')}`;
  return { token, hash: hashToken(token) };
}

/** Structural check only: anything else is `malformed` and never reaches a store. */
export function parseToken(token: string): ParsedToken | null {
  if (token.length !== TOKEN_LENGTH || token.charCodeAt(SESSION_ID_LENGTH) !== 46 /* . */) return null;
  const id = token.slice(0, SESSION_ID_LENGTH);
  if (!BASE64URL.test(id) || !BASE64URL.test(token.slice(SESSION_ID_LENGTH + 1))) return null;
  return { id, hash: hashToken(token) };
}

export function isSessionId(value: string): boolean {
  return value.length === SESSION_ID_LENGTH && BASE64URL.test(value);
}

/** Constant-time equality for secrets and digests compared in code. */
export function constantTimeEqual(a: Uint8Array | string, b: Uint8Array | string): boolean {
  const x = typeof a === 'string' ? Buffer.from(a) : a;
  const y = typeof b === 'string' ? Buffer.from(b) : b;
  // Compare digests so unequal lengths don't return early and leak the length.
  const dx = createHash('sha256').update(x).digest();
  const dy = createHash('sha256').update(y).digest();
  return timingSafeEqual(dx, dy) && x.length === y.length;
}
