import { createHash, hash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Token format: `<id>.<secret>`
 *  - id: a 4-character user shard tag + 128 random bits (26 base64url characters). It is the session's
 *    public id: shown in session lists and used to revoke. The shard tag is derived from the user id
 *    (first 24 bits of SHA-256(userId)) so that a Redis Cluster can keep all of one user's keys in one
 *    hash slot while validating from the token alone. It reveals nothing about the user but "same user"
 *    across that user's own cookies.
 *  - secret: 256 random bits from the CSPRNG (43 base64url characters).
 * Stores only ever receive the public id and SHA-256(token). A dump of a store can't be replayed as a
 * cookie, and knowing the public id doesn't help: the secret is never stored. (Lucia's current guide
 * uses the same split; OWASP Session Management Cheat Sheet: >= 64 bits of entropy, we use 256.)
 */
export const SESSION_ID_LENGTH = 26;
export const SECRET_LENGTH = 43;
export const TOKEN_LENGTH = SESSION_ID_LENGTH + 1 + SECRET_LENGTH;
const TAG_LENGTH = 4;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

export interface ParsedToken {
  id: string;
  hash: Uint8Array;
}

/** The 4-character shard tag shared by every session id of this user. */
export function userTag(userId: string): string {
  return createHash('sha256').update(userId).digest().subarray(0, 3).toString('base64url');
}

/** The shard tag inside a session id (its first 4 characters). */
export function tagOfSessionId(id: string): string {
  return id.slice(0, TAG_LENGTH);
}

export function newSessionId(userId: string): string {
  return userTag(userId) + randomBytes(16).toString('base64url');
}

export function hashToken(token: string): Uint8Array {
  // crypto.hash (Node >= 20.12): one call, no Hash object; ~0.5 us less than createHash per request.
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
