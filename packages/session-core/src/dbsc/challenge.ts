import { encodeBase64url } from './base64url.js';

/**
 * A registration or refresh challenge: 256 random bits, 43 base64url characters. It is the only
 * freshness a proof has (the JWT carries no clock), so it must be unguessable and used once.
 */
export function newChallenge(): string {
  return encodeBase64url(globalThis.crypto.getRandomValues(new Uint8Array(32)));
}
