import { type CookieAttributes, isCookieName } from '../cookie.js';
import { SessionError } from '../errors.js';

/**
 * The JSON session instruction (docs/DBSC.md §2.5; spec "JSON Session Instruction Format", Chromium
 * `session_json_utils.cc`): the body of the registration 200 and, optionally, of a refresh 200.
 */

export interface DbscScopeRule {
  type: 'include' | 'exclude';
  domain: string;
  path: string;
}

export interface DbscSessionConfig {
  session_identifier: string;
  refresh_url: string;
  continue: true;
  scope: { origin: string; include_site: boolean; scope_specification?: DbscScopeRule[] };
  credentials: [{ type: 'cookie'; name: string; attributes: string }];
  allowed_refresh_initiators: string[];
}

export interface DbscTerminateConfig {
  session_identifier: string;
  continue: false;
}

export interface SessionConfigOptions {
  sessionId: string;
  /** Resolved by the browser against the registration URL; same site, HTTPS or localhost. */
  refreshUrl: string;
  /** The scope's origin, e.g. `https://app.example`. Derive it from configuration, not a proxied request. */
  origin: string;
  /** `true` only when the origin's host is the registrable domain (else a .well-known file is needed). */
  includeSite?: boolean;
  cookieName: string;
  /**
   * The bound cookie's attributes, equal to its `Set-Cookie` minus the lifetime. A `CookieAttributes`
   * object is written in `serializeCookie`'s order with `maxAge` left out; a string must carry no
   * `Max-Age`/`Expires` (Chrome rejects the session, spec a9e3f57c) and no `Partitioned`.
   */
  cookieAttributes: CookieAttributes | string;
  /** Scope rules; the browser applies the last matching one (spec since 2026-01-27). */
  scopeSpecification?: readonly DbscScopeRule[];
}

const SAME_SITE = { lax: 'Lax', strict: 'Strict', none: 'None' } as const;

function invalid(message: string): never {
  throw new SessionError('INVALID_ARGUMENT', message);
}

function nonEmpty(name: string, value: unknown): asserts value is string {
  if (typeof value !== 'string' || value === '') invalid(`${name} must be a non-empty string`);
}

function attributesString(attributes: CookieAttributes | string): string {
  if (typeof attributes === 'string') {
    for (const part of attributes.split(';')) {
      const name = part.split('=')[0]!.trim().toLowerCase();
      if (name === 'max-age' || name === 'expires' || name === 'partitioned')
        invalid(`cookieAttributes must not contain ${part.trim()}: Chrome refuses such a session`);
    }
    return attributes.trim();
  }
  if (typeof attributes !== 'object' || attributes === null) invalid('cookieAttributes is required');
  let out = `Path=${attributes.path}`;
  if (attributes.httpOnly) out += '; HttpOnly';
  if (attributes.secure) out += '; Secure';
  return `${out}; SameSite=${SAME_SITE[attributes.sameSite]}`;
}

/**
 * Whether browsers bind sessions on this origin: a secure context, which for DBSC is https, or http on
 * localhost or a loopback address (Chromium's `IsSecure`). For a server's "on where it can work".
 */
export function isBindableOrigin(origin: string): boolean {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  const host = url.hostname;
  const local =
    host === 'localhost' || host.endsWith('.localhost') || host === '[::1]' || /^127\./.test(host);
  return url.protocol === 'https:' || (url.protocol === 'http:' && local);
}

export function sessionConfig(options: SessionConfigOptions): DbscSessionConfig {
  const { sessionId, refreshUrl, origin, includeSite = false, cookieName, cookieAttributes } = options;
  nonEmpty('sessionId', sessionId);
  nonEmpty('refreshUrl', refreshUrl);
  nonEmpty('origin', origin);
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    invalid(`origin '${origin}' is not a URL`);
  }
  if (url.origin !== origin)
    invalid(`origin '${origin}' is not a serialized origin (like https://app.example)`);
  if (!isBindableOrigin(origin))
    invalid('origin must be https (or http on localhost): browsers bind sessions only there');
  if (typeof includeSite !== 'boolean') invalid('includeSite must be a boolean');
  if (!isCookieName(cookieName)) invalid(`cookieName '${String(cookieName)}' is not a valid token`);
  const scope: DbscSessionConfig['scope'] = { origin, include_site: includeSite };
  if (options.scopeSpecification !== undefined && options.scopeSpecification.length > 0) {
    scope.scope_specification = options.scopeSpecification.map((rule) => {
      if (rule.type !== 'include' && rule.type !== 'exclude') invalid(`scope rule type '${rule.type}'`);
      nonEmpty('scope rule domain', rule.domain);
      nonEmpty('scope rule path', rule.path);
      return { type: rule.type, domain: rule.domain, path: rule.path };
    });
  }
  return {
    session_identifier: sessionId,
    refresh_url: refreshUrl,
    continue: true,
    scope,
    credentials: [{ type: 'cookie', name: cookieName, attributes: attributesString(cookieAttributes) }],
    allowed_refresh_initiators: [],
  };
}

/** Ends the browser's session. Chromium reads `session_identifier` before `continue`, so it is required. */
export function terminateConfig(sessionId: string): DbscTerminateConfig {
  nonEmpty('sessionId', sessionId);
  return { session_identifier: sessionId, continue: false };
}
