import type { webcrypto } from 'node:crypto';
import { SessionError } from '../errors.js';
import { constantTimeEqual } from '../tokens.js';
import { decodeBase64url, encodeBase64url } from './base64url.js';
import { DBSC_ALGORITHMS, type DbscAlgorithm, MAX_PROOF_LENGTH } from './headers.js';

/**
 * Verification of the DBSC proof JWT (`typ: dbsc+jwt`, docs/DBSC.md §2.3-§2.4): a compact JWS whose
 * header carries the public key at registration (`jwk`) and none at refresh, and whose payload is
 * `{ jti, authorization? }` since spec PR #216. No `iat`/`exp`: freshness is the server's challenge,
 * so there is no clock to check. Unknown claims (Chromium may add `aud`) are returned, not refused.
 *
 * Failures are values (a browser's proof can be anything); bad options throw (a caller's bug).
 * Checks run in an order that makes `challenge_mismatch` mean "a valid signature by this key over a
 * challenge that isn't the current one", the benign race a caller answers with a fresh 403.
 */

export interface EcPublicJwk {
  kty: 'EC';
  crv: 'P-256';
  x: string;
  y: string;
}
export interface RsaPublicJwk {
  kty: 'RSA';
  n: string;
  e: string;
}
/** Only the members RFC 7638 hashes; what a store keeps. */
export type DbscPublicJwk = EcPublicJwk | RsaPublicJwk;

export interface DbscClaims {
  jti: string;
  authorization?: string;
  [claim: string]: unknown;
}

export type ProofFailureReason =
  /** Longer than `MAX_PROOF_LENGTH`. */
  | 'too_large'
  /** Not three strict base64url segments of JSON objects, a missing/non-string `jti`, a `crit` header, a `jwk` on a refresh proof. */
  | 'malformed'
  /** `typ` isn't `dbsc+jwt`. */
  | 'bad_typ'
  /** `alg` is not one offered (`none`, `HS256`, `ES384`, ...) or not the stored key's. */
  | 'unsupported_alg'
  /** Missing, private, wrong-type, wrong-size or unusable key, or a key that doesn't fit `alg`. */
  | 'bad_key'
  | 'bad_signature'
  /** Signed correctly, but `jti` is not the expected challenge. */
  | 'challenge_mismatch'
  /** `authorization` absent, present or different from what the registration header sent. */
  | 'authorization_mismatch';

export type RegistrationProofResult =
  | { ok: true; alg: DbscAlgorithm; publicJwk: DbscPublicJwk; thumbprint: string; claims: DbscClaims }
  | { ok: false; reason: ProofFailureReason };

export type RefreshProofResult = { ok: true; claims: DbscClaims } | { ok: false; reason: ProofFailureReason };

export interface VerifyRegistrationOptions {
  /** The challenge this server issued for this session (the registration header's `challenge`). */
  expectedChallenge: string;
  /** The algorithms the registration header offered. */
  algorithms: readonly DbscAlgorithm[];
  /** The registration header's `authorization`, when it had one. */
  authorization?: string;
}

export interface VerifyRefreshOptions {
  /** The key stored at registration; never one taken from the request. */
  publicJwk: DbscPublicJwk;
  expectedChallenge: string;
}

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;
const MIN_RSA_BITS = 2048;
// An RSA verify costs more with the modulus; nobody's TPM makes keys past this.
const MAX_RSA_BITS = 8192;

type Fail = { ok: false; reason: ProofFailureReason };
const fail = (reason: ProofFailureReason): Fail => ({ ok: false, reason });

function invalid(message: string): never {
  throw new SessionError('INVALID_ARGUMENT', message);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

interface DecodedJws {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
  signingInput: Uint8Array;
  signature: Uint8Array;
}

function decodeJson(segment: string): Record<string, unknown> | null {
  const bytes = decodeBase64url(segment);
  if (bytes === null) return null;
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    return null;
  }
  return isObject(value) ? value : null;
}

function decodeJws(jwt: unknown): DecodedJws | Fail {
  if (typeof jwt !== 'string') return fail('malformed');
  if (jwt.length > MAX_PROOF_LENGTH) return fail('too_large');
  const parts = jwt.split('.');
  if (parts.length !== 3) return fail('malformed');
  const [h, p, s] = parts as [string, string, string];
  const header = decodeJson(h);
  const payload = decodeJson(p);
  const signature = decodeBase64url(s);
  if (header === null || payload === null || signature === null || signature.length === 0)
    return fail('malformed');
  // RFC 7515 §4.1.11: an extension we don't understand must not be ignored.
  if (Object.hasOwn(header, 'crit')) return fail('malformed');
  if (typeof payload.jti !== 'string' || payload.jti === '') return fail('malformed');
  if (Object.hasOwn(payload, 'authorization') && typeof payload.authorization !== 'string')
    return fail('malformed');
  return { header, payload, signingInput: new TextEncoder().encode(`${h}.${p}`), signature };
}

/** RFC 7515 §4.1.9 recommends dropping `application/`; media types compare case-insensitively. */
function isDbscTyp(typ: unknown): boolean {
  if (typeof typ !== 'string') return false;
  const t = typ.toLowerCase();
  return t === 'dbsc+jwt' || t === 'application/dbsc+jwt';
}

function bitLength(bytes: Uint8Array): number {
  const first = bytes[0]!;
  return (bytes.length - 1) * 8 + (32 - Math.clz32(first));
}

/**
 * The key's public members, checked for `alg`. Strict where it matters (type, curve, sizes, no
 * private members, minimal big-endian integers per RFC 7518 §6.3.1); tolerant of the metadata a
 * Web Crypto export adds (`ext`, `key_ops`), which is dropped.
 */
function publicJwkFor(alg: DbscAlgorithm, jwk: unknown): DbscPublicJwk | null {
  if (!isObject(jwk)) return null;
  for (const member of PRIVATE_MEMBERS) if (Object.hasOwn(jwk, member)) return null;
  if (Object.hasOwn(jwk, 'alg') && jwk.alg !== alg) return null;
  if (Object.hasOwn(jwk, 'use') && jwk.use !== 'sig') return null;
  if (alg === 'ES256') {
    if (jwk.kty !== 'EC' || jwk.crv !== 'P-256') return null;
    if (typeof jwk.x !== 'string' || typeof jwk.y !== 'string') return null;
    if (decodeBase64url(jwk.x)?.length !== 32 || decodeBase64url(jwk.y)?.length !== 32) return null;
    return { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y };
  }
  if (jwk.kty !== 'RSA' || typeof jwk.n !== 'string' || typeof jwk.e !== 'string') return null;
  const n = decodeBase64url(jwk.n);
  const e = decodeBase64url(jwk.e);
  if (n === null || e === null || n.length === 0 || e.length === 0) return null;
  if (n[0] === 0 || e[0] === 0) return null;
  const bits = bitLength(n);
  if (bits < MIN_RSA_BITS || bits > MAX_RSA_BITS) return null;
  // A public exponent is odd and >= 3; past 32 bits it is not one any key generator makes.
  if (e.length > 4 || (e[e.length - 1]! & 1) === 0 || (e.length === 1 && e[0]! < 3)) return null;
  return { kty: 'RSA', n: jwk.n, e: jwk.e };
}

function algOfKey(jwk: DbscPublicJwk): DbscAlgorithm {
  return jwk.kty === 'EC' ? 'ES256' : 'RS256';
}

async function importKey(alg: DbscAlgorithm, jwk: DbscPublicJwk): Promise<webcrypto.CryptoKey | null> {
  const params =
    alg === 'ES256' ? { name: 'ECDSA', namedCurve: 'P-256' } : { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  try {
    // Import rejects an EC point that isn't on the curve.
    return await globalThis.crypto.subtle.importKey('jwk', { ...jwk }, params, false, ['verify']);
  } catch {
    return null;
  }
}

async function verifySignature(
  alg: DbscAlgorithm,
  jwk: DbscPublicJwk,
  key: webcrypto.CryptoKey,
  jws: DecodedJws,
): Promise<boolean> {
  // JWS ES256 is the 64-byte r||s (RFC 7518 §3.4), never DER; RS256 is exactly the modulus' length.
  // Node's Web Crypto refuses both already; the check keeps JWS's rule if the runtime's is looser.
  const expected = alg === 'ES256' ? 64 : decodeBase64url((jwk as RsaPublicJwk).n)!.length;
  if (jws.signature.length !== expected) return false;
  const params = alg === 'ES256' ? { name: 'ECDSA', hash: 'SHA-256' } : { name: 'RSASSA-PKCS1-v1_5' };
  try {
    return await globalThis.crypto.subtle.verify(params, key, jws.signature, jws.signingInput);
  } catch {
    return false;
  }
}

/** RFC 7638 JWK thumbprint: SHA-256 over the required members in lexical order, base64url. */
export async function jwkThumbprint(jwk: DbscPublicJwk): Promise<string> {
  const canonical =
    jwk.kty === 'EC'
      ? JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y })
      : JSON.stringify({ e: jwk.e, kty: jwk.kty, n: jwk.n });
  const digest = await globalThis.crypto.subtle.digest('SHA-256', new TextEncoder().encode(canonical));
  return encodeBase64url(new Uint8Array(digest));
}

function checkChallenge(name: string, value: unknown): asserts value is string {
  if (typeof value !== 'string' || value === '') invalid(`${name} must be a non-empty string`);
}

function claimsOf(payload: Record<string, unknown>): DbscClaims {
  return payload as DbscClaims;
}

/**
 * Verifies a registration proof: self-signed by the `jwk` in its header (which proves possession),
 * over the challenge issued for this session. On success returns the key to store and its thumbprint.
 */
export async function verifyRegistrationJwt(
  jwt: string,
  options: VerifyRegistrationOptions,
): Promise<RegistrationProofResult> {
  if (!isObject(options)) invalid('options are required');
  const { expectedChallenge, algorithms, authorization } = options;
  checkChallenge('expectedChallenge', expectedChallenge);
  if (!Array.isArray(algorithms) || algorithms.length === 0) invalid('algorithms must be a non-empty array');
  for (const alg of algorithms)
    if (!DBSC_ALGORITHMS.includes(alg)) invalid(`unsupported DBSC algorithm '${String(alg)}'`);
  if (authorization !== undefined && typeof authorization !== 'string')
    invalid('authorization must be a string when given');

  const jws = decodeJws(jwt);
  if ('ok' in jws) return jws;
  if (!isDbscTyp(jws.header.typ)) return fail('bad_typ');
  const alg = jws.header.alg;
  if (typeof alg !== 'string' || !(algorithms as readonly string[]).includes(alg))
    return fail('unsupported_alg');
  const publicJwk = publicJwkFor(alg as DbscAlgorithm, jws.header.jwk);
  if (publicJwk === null) return fail('bad_key');
  const key = await importKey(alg as DbscAlgorithm, publicJwk);
  if (key === null) return fail('bad_key');
  if (!(await verifySignature(alg as DbscAlgorithm, publicJwk, key, jws))) return fail('bad_signature');
  const claims = claimsOf(jws.payload);
  if (!constantTimeEqual(claims.jti, expectedChallenge)) return fail('challenge_mismatch');
  if (authorization === undefined) {
    if (Object.hasOwn(claims, 'authorization')) return fail('authorization_mismatch');
  } else if (claims.authorization === undefined || !constantTimeEqual(claims.authorization, authorization))
    return fail('authorization_mismatch');
  return {
    ok: true,
    alg: alg as DbscAlgorithm,
    publicJwk,
    thumbprint: await jwkThumbprint(publicJwk),
    claims,
  };
}

/**
 * Verifies a refresh proof against the key stored at registration. A `jwk` in the header is refused:
 * the spec forbids it there, and honouring it would let anyone sign with a key of their own.
 */
export async function verifyRefreshProof(
  jwt: string,
  options: VerifyRefreshOptions,
): Promise<RefreshProofResult> {
  if (!isObject(options)) invalid('options are required');
  const { publicJwk, expectedChallenge } = options;
  checkChallenge('expectedChallenge', expectedChallenge);
  const kty = isObject(publicJwk) ? publicJwk.kty : undefined;
  const alg = kty === 'EC' ? 'ES256' : kty === 'RSA' ? 'RS256' : null;
  const stored = alg === null ? null : publicJwkFor(alg, publicJwk);
  if (stored === null) invalid('publicJwk is not a public P-256 or RSA (>= 2048 bits) JWK');
  const key = await importKey(algOfKey(stored), stored);
  if (key === null) invalid('publicJwk could not be imported');

  const jws = decodeJws(jwt);
  if ('ok' in jws) return jws;
  if (!isDbscTyp(jws.header.typ)) return fail('bad_typ');
  if (jws.header.alg !== algOfKey(stored)) return fail('unsupported_alg');
  if (Object.hasOwn(jws.header, 'jwk')) return fail('malformed');
  if (!(await verifySignature(algOfKey(stored), stored, key, jws))) return fail('bad_signature');
  const claims = claimsOf(jws.payload);
  if (!constantTimeEqual(claims.jti, expectedChallenge)) return fail('challenge_mismatch');
  return { ok: true, claims };
}

/**
 * The `jti` (the challenge a proof answers) read without verifying anything: the server keeps only a
 * challenge's hash, so it learns which challenge to look up from the proof, then verifies the proof
 * and lets the store compare the hash. Null when the proof isn't even shaped like one.
 */
export function proofChallenge(jwt: string): string | null {
  const jws = decodeJws(jwt);
  if ('ok' in jws) return null;
  const { jti } = jws.payload;
  return typeof jti === 'string' && jti !== '' && jti.length <= 512 ? jti : null;
}
