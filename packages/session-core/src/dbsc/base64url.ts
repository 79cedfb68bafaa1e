import { Buffer } from 'node:buffer';

/**
 * Strict base64url (RFC 7515 §2: no padding, no whitespace). Buffer's decoder skips junk and ignores
 * non-zero trailing bits, so one value would have many spellings; re-encoding and comparing leaves
 * exactly one accepted spelling per byte string (padding, foreign characters and set trailing bits
 * all fail the comparison), which keeps signatures and thumbprints unambiguous.
 */
export function decodeBase64url(text: string): Uint8Array | null {
  const bytes = Buffer.from(text, 'base64url');
  if (bytes.toString('base64url') !== text) return null;
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export function encodeBase64url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
}
