import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import { SessionConfigError } from '../../errors.js';

/**
 * The user shard tag: 4 base64url characters (24 bits) that open every session id of a user and sit
 * between the braces of all that user's Redis keys, so that a Redis Cluster keeps them in one hash slot
 * and validation finds the slot from the token alone.
 *
 * It is HMAC-SHA256(tagSecret, userId), truncated. A tag has to be stable per user (the same on every
 * instance and after a restart, or a user's index would split), but an unkeyed hash of the user id
 * would let anyone who knows a user id recognise that user's cookies and logged session ids, and for
 * guessable ids (integers, emails) recover the user from a session id by trying candidates. Keyed with
 * a server-side secret, the tag says only "same user" across sessions, and only to someone comparing
 * session ids; it can't be computed or inverted without the secret (RFC 2104 HMAC as a PRF; truncation
 * as in RFC 4226 5.3). 24 bits spread users over the 16,384 Cluster slots and cost no extra byte.
 */
export const TAG_LENGTH = 4;

/** At least 256 bits: the key of an HMAC-SHA256 should be as long as its output (RFC 2104 section 3). */
export const MIN_TAG_SECRET_BYTES = 32;

// Names what the HMAC is for, so a secret reused elsewhere by mistake still yields unrelated values.
const CONTEXT = 'tessera session shard tag\0';

/** Returns `tag(userId)`; throws SessionConfigError unless `secret` is at least 32 bytes. */
export function shardTagger(secret: unknown): (userId: string) => string {
  if (!(secret instanceof Uint8Array) || secret.byteLength < MIN_TAG_SECRET_BYTES) {
    const got =
      secret instanceof Uint8Array
        ? `${secret.byteLength} bytes`
        : secret === undefined
          ? 'nothing'
          : `a ${typeof secret}`;
    throw new SessionConfigError(
      `redisStore needs tagSecret: at least ${MIN_TAG_SECRET_BYTES} random bytes (a Uint8Array, e.g. ` +
        `crypto.randomBytes(32)), the same on every instance and across restarts; got ${got}`,
    );
  }
  // A copy in a KeyObject: later changes to the caller's buffer can't move a user to another shard.
  const key: KeyObject = createSecretKey(Buffer.from(secret));
  return (userId) =>
    createHmac('sha256', key).update(CONTEXT).update(userId).digest().subarray(0, 3).toString('base64url');
}
