/**
 * Encryption at rest for small secrets (TOTP seeds), so that a database dump alone doesn't reveal
 * them (OWASP ASVS 5.0 11.3.2 approved cipher and mode, 11.3.3 authenticated encryption, 11.2.2 keys
 * can be replaced and data re-encrypted; OWASP Cryptographic Storage Cheat Sheet: the key lives apart
 * from the data it protects).
 *
 * AES-256-GCM with a random 96-bit nonce per value (NIST SP 800-38D 8.2.2 allows 2^32 random nonces
 * per key; ASVS 11.3.4). A sealed value reads `v1.<key id>.<nonce>.<ciphertext + 16-byte tag>` (base64url), so it
 * names the key that opens it and several keys can be in use during a rotation. The additional
 * authenticated data binds the header and a caller-chosen context (e.g. the user id): a sealed value
 * copied to another user's row, or edited, fails to open instead of opening as someone else's.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';

const VERSION = 'v1';
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;
const SEALED = /^v1\.([A-Za-z0-9_-]{8})\.([A-Za-z0-9_-]{16})\.([A-Za-z0-9_-]{22,})$/;

/** Why a sealed value did not open. Never carries the value or a key. */
export type SecretBoxFailure = 'malformed' | 'unknown_key' | 'not_authentic';

export class SecretBoxError extends Error {
  constructor(
    readonly reason: SecretBoxFailure,
    message: string,
    /** The key id the value names, when it has one. */
    readonly keyId: string | null = null,
  ) {
    super(message);
    this.name = 'SecretBoxError';
  }
}

/**
 * A key's public name: 48 bits of HMAC-SHA256(key, label). It tells keys apart in sealed values and
 * logs; without the key it can't be computed, and it reveals nothing of the key.
 */
export function keyId(key: Uint8Array): string {
  return createHmac('sha256', key).update('tessera-totp-key-id').digest('base64url').slice(0, 8);
}

export interface SecretBox {
  /** Ids of the keys that open values, the one that seals first. */
  readonly keyIds: readonly string[];
  /** Seals `plaintext` with the first key, bound to `context`. */
  seal(plaintext: string, context: string): string;
  /** Opens a value sealed with any of the keys and the same `context`. @throws SecretBoxError */
  open(sealed: string, context: string): string;
  /** The key id a sealed value names, or null when it is not a sealed value. */
  keyIdOf(value: string): string | null;
}

const aad = (header: string, context: string) => Buffer.from(`${header}.${context}`, 'utf8');

/** @param keys 32-byte keys, the sealing one first; every one opens. */
export function secretBox(keys: readonly Uint8Array[]): SecretBox {
  if (keys.length === 0) throw new Error('secretBox: at least one key is needed');
  const byId = new Map<string, Buffer>();
  for (const key of keys) {
    if (key.length !== KEY_BYTES)
      throw new Error(`secretBox: keys are ${KEY_BYTES} bytes, got ${key.length}`);
    const id = keyId(key);
    if (byId.has(id)) throw new Error(`secretBox: key ${id} is listed twice`);
    byId.set(id, Buffer.from(key));
  }
  const keyIds = [...byId.keys()];
  const sealId = keyIds[0]!;
  const sealKey = byId.get(sealId)!;

  return {
    keyIds,
    seal(plaintext, context) {
      const nonce = randomBytes(NONCE_BYTES);
      const header = `${VERSION}.${sealId}`;
      const cipher = createCipheriv('aes-256-gcm', sealKey, nonce, { authTagLength: TAG_BYTES });
      cipher.setAAD(aad(header, context));
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
      return `${header}.${nonce.toString('base64url')}.${body.toString('base64url')}`;
    },
    open(sealed, context) {
      const match = SEALED.exec(sealed);
      if (!match) throw new SecretBoxError('malformed', 'not a sealed value (v1.<key id>.<nonce>.<data>)');
      const [, id, nonceText, bodyText] = match as unknown as [string, string, string, string];
      const key = byId.get(id);
      if (!key) {
        throw new SecretBoxError(
          'unknown_key',
          `sealed with key ${id}, which is not configured (configured: ${keyIds.join(', ')})`,
          id,
        );
      }
      const body = Buffer.from(bodyText, 'base64url');
      if (body.length < TAG_BYTES) throw new SecretBoxError('malformed', 'sealed value too short', id);
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(nonceText, 'base64url'), {
          authTagLength: TAG_BYTES,
        });
        decipher.setAAD(aad(`${VERSION}.${id}`, context));
        decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
        return Buffer.concat([
          decipher.update(body.subarray(0, body.length - TAG_BYTES)),
          decipher.final(),
        ]).toString('utf8');
      } catch {
        // A wrong key with a colliding id, a value edited or moved to another context: never a guess.
        throw new SecretBoxError(
          'not_authentic',
          `sealed with key ${id} but does not authenticate (altered, or moved from another record)`,
          id,
        );
      }
    },
    keyIdOf: (value) => SEALED.exec(value)?.[1] ?? null,
  };
}
