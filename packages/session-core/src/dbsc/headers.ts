import { SessionError } from '../errors.js';

/**
 * The DBSC header values, as W3C webappsec-dbsc (editor's draft at commit d3468112, 2026-02-17) and
 * Chromium's `net/device_bound_sessions` read them (docs/DBSC.md §2.1, §2.2, §2.7). Pure string work:
 * the routes that send and read these headers are built on top.
 */

/** Algorithms a Tessera server offers. `none` is legal in the spec but would bind nothing. */
export type DbscAlgorithm = 'ES256' | 'RS256';
export const DBSC_ALGORITHMS: readonly DbscAlgorithm[] = ['ES256', 'RS256'];

/** Upper bound for a proof; a P-256 proof is ~450 bytes and an RSA-4096 one ~1.9 KB. */
export const MAX_PROOF_LENGTH = 8192;
/** Upper bound for a session identifier read from `Sec-Secure-Session-Id`. */
export const MAX_SESSION_ID_LENGTH = 256;

export type HeaderParseResult =
  | { value: string }
  | { value: null; reason: 'missing' | 'malformed' | 'too_large' };

function invalid(message: string): never {
  throw new SessionError('INVALID_ARGUMENT', message);
}

/** RFC 8941 §4.1.6 sf-string: printable ASCII only, `"` and `\` escaped. */
function sfString(name: string, value: unknown): string {
  if (typeof value !== 'string') invalid(`${name} must be a string`);
  if (/[^\x20-\x7e]/.test(value)) invalid(`${name} must be printable ASCII (an RFC 8941 string)`);
  return `"${value.replace(/[\\"]/g, '\\$&')}"`;
}

export interface RegistrationHeaderOptions {
  algorithms: readonly DbscAlgorithm[];
  /** Registration endpoint, relative to the response URL or absolute (same site, HTTPS or localhost). */
  path: string;
  /** Becomes the registration JWT's `jti`. Required: older Chromium drops a registration without one. */
  challenge: string;
  /** Echoed as the JWT's `authorization` claim and as the registration request's `Authorization` header. */
  authorization?: string;
}

/** `Secure-Session-Registration`: `(ES256 RS256);path="/dbsc/register";challenge="..."`. */
export function registrationHeader(options: RegistrationHeaderOptions): string {
  const { algorithms, path, challenge, authorization } = options;
  if (!Array.isArray(algorithms) || algorithms.length === 0) invalid('algorithms must be a non-empty array');
  for (const alg of algorithms)
    if (!DBSC_ALGORITHMS.includes(alg)) invalid(`unsupported DBSC algorithm '${String(alg)}'`);
  if (new Set(algorithms).size !== algorithms.length) invalid('algorithms must not repeat');
  if (typeof path !== 'string' || path === '') invalid('path must be a non-empty string');
  if (typeof challenge !== 'string' || challenge === '') invalid('challenge must be a non-empty string');
  let out = `(${algorithms.join(' ')});path=${sfString('path', path)};challenge=${sfString('challenge', challenge)}`;
  if (authorization !== undefined) out += `;authorization=${sfString('authorization', authorization)}`;
  return out;
}

/** `Secure-Session-Challenge`: `"<challenge>";id="<session id>"` (one member of the List). */
export function challengeHeader(options: { challenge: string; sessionId: string }): string {
  const { challenge, sessionId } = options;
  if (typeof challenge !== 'string' || challenge === '') invalid('challenge must be a non-empty string');
  if (typeof sessionId !== 'string' || sessionId === '') invalid('sessionId must be a non-empty string');
  return `${sfString('challenge', challenge)};id=${sfString('sessionId', sessionId)}`;
}

const JWS_COMPACT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
// What an unquoted id may contain: visible ASCII minus the characters that delimit structured fields.
const RAW_ID = /^[!#$%&'*+\-./0-9:<=>?@A-Z[\]^_`a-z{|}~]+$/;

/**
 * SPEC declares these values sf-strings; Chromium sends them raw (`SetExtraRequestHeaderByName`).
 * A value opening with `"` is read as an sf-string with nothing after it (no parameters: none are
 * defined); anything else must be one raw token of the expected shape. A comma means the header was
 * sent twice and joined: refused, never guessed.
 */
function readValue(header: string | null | undefined, raw: RegExp, maxLength: number): HeaderParseResult {
  if (header === undefined || header === null) return { value: null, reason: 'missing' };
  if (typeof header !== 'string') return { value: null, reason: 'malformed' };
  // The quoted form of a maximal value is at most twice as long plus the quotes.
  if (header.length > 2 * maxLength + 2 + 64) return { value: null, reason: 'too_large' };
  const text = header.replace(/^[ \t]+|[ \t]+$/g, '');
  if (text === '') return { value: null, reason: 'missing' };
  let value: string;
  if (text.startsWith('"')) {
    let out = '';
    let i = 1;
    for (; i < text.length; i++) {
      const c = text[i]!;
      if (c === '\\') {
        const next = text[++i];
        if (next !== '"' && next !== '\\') return { value: null, reason: 'malformed' };
        out += next;
      } else if (c === '"') break;
      // Other characters are bounded by the shape check below, stricter than sf-string's 0x20-0x7E.
      else out += c;
    }
    if (i !== text.length - 1) return { value: null, reason: 'malformed' };
    value = out;
  } else value = text;
  if (value.length > maxLength) return { value: null, reason: 'too_large' };
  if (!raw.test(value)) return { value: null, reason: 'malformed' };
  return { value };
}

/** `Secure-Session-Response`: the compact JWS, quoted (SPEC) or raw (Chromium). */
export function parseSessionResponseHeader(header: string | null | undefined): HeaderParseResult {
  return readValue(header, JWS_COMPACT, MAX_PROOF_LENGTH);
}

/** `Sec-Secure-Session-Id`: the session identifier, quoted (SPEC) or raw (Chromium). */
export function parseSessionIdHeader(header: string | null | undefined): HeaderParseResult {
  return readValue(header, RAW_ID, MAX_SESSION_ID_LENGTH);
}
