import type { webcrypto } from 'node:crypto';

/**
 * A browser that speaks DBSC, for tests: a cookie jar, a table of bound sessions and their keys, and
 * the protocol as Chromium runs it (docs/DBSC.md §2): on a response with `Secure-Session-Registration`
 * it makes a key, signs the challenge and posts to the registration path; before a request whose bound
 * cookie is missing or expired it refreshes (cached challenge, else an empty first leg answered with a
 * 403 challenge), at most a few times, then sends the request. Keys live in Web Crypto, the private
 * half not extractable, as a TPM key would be.
 *
 * Written independently of the server code it tests: its own header parsing, its own JWT building.
 * Transport is any `fetch`: real HTTP in the server's tests, an in-process handler elsewhere.
 */

const subtle = globalThis.crypto.subtle;
const b64 = (bytes: ArrayBuffer | Uint8Array) => Buffer.from(bytes as ArrayBuffer).toString('base64url');
const json64 = (value: unknown) => b64(new TextEncoder().encode(JSON.stringify(value)));

export type DbscTestAlgorithm = 'ES256' | 'RS256';

export interface DbscTestKey {
  alg: DbscTestAlgorithm;
  privateKey: webcrypto.CryptoKey;
  /** The public JWK as Chromium sends it: the required members only. */
  jwk: Record<string, string>;
}

/** A new device key: P-256 (what Chrome asks a TPM for first) or RSA-2048. */
export async function makeDbscKey(alg: DbscTestAlgorithm = 'ES256'): Promise<DbscTestKey> {
  const pair = (await subtle.generateKey(
    alg === 'ES256'
      ? { name: 'ECDSA', namedCurve: 'P-256' }
      : {
          name: 'RSASSA-PKCS1-v1_5',
          modulusLength: 2048,
          publicExponent: new Uint8Array([1, 0, 1]),
          hash: 'SHA-256',
        },
    false,
    ['sign', 'verify'],
  )) as webcrypto.CryptoKeyPair;
  const full = await subtle.exportKey('jwk', pair.publicKey);
  const jwk: Record<string, string> =
    alg === 'ES256'
      ? { kty: 'EC', crv: 'P-256', x: full.x!, y: full.y! }
      : { kty: 'RSA', n: full.n!, e: full.e! };
  return { alg, privateKey: pair.privateKey, jwk };
}

/** A DBSC proof as Chromium builds it: `{alg, typ, jwk?}` . `{jti}`, ES256 as the JOSE r||s. */
export async function signDbscProof(key: DbscTestKey, challenge: string, withJwk: boolean): Promise<string> {
  const header = withJwk
    ? { alg: key.alg, typ: 'dbsc+jwt', jwk: key.jwk }
    : { alg: key.alg, typ: 'dbsc+jwt' };
  const input = `${json64(header)}.${json64({ jti: challenge })}`;
  const params = key.alg === 'ES256' ? { name: 'ECDSA', hash: 'SHA-256' } : { name: 'RSASSA-PKCS1-v1_5' };
  const signature = await subtle.sign(params, key.privateKey, new TextEncoder().encode(input));
  return `${input}.${b64(signature)}`;
}

/** The first quoted string after `name=` in a structured-field header (enough for the values we send). */
function param(header: string, name: string): string | null {
  const m = new RegExp(`;\\s*${name}="((?:[^"\\\\]|\\\\.)*)"`).exec(header);
  return m ? m[1]!.replace(/\\(.)/g, '$1') : null;
}

/** `"<challenge>";id="<session id>"` -> both parts. */
function parseChallenge(header: string): { challenge: string; id: string | null } | null {
  const m = /^\s*"((?:[^"\\]|\\.)*)"/.exec(header);
  return m ? { challenge: m[1]!, id: param(header, 'id') } : null;
}

interface JarCookie {
  value: string;
  /** On the browser's clock; null for a browser-session cookie. */
  expiresAt: number | null;
}

export interface BoundSessionState {
  id: string;
  refreshUrl: string;
  cookieName: string;
  key: DbscTestKey;
  /** The challenge cached from a `Secure-Session-Challenge`, used for the next refresh. */
  challenge: string | null;
}

export type DbscBrowserEvent =
  | { type: 'registered'; id: string; status: number }
  | { type: 'registration_failed'; status: number; body: string }
  | { type: 'challenged'; id: string }
  | { type: 'refreshed'; id: string }
  | { type: 'terminated'; id: string }
  | { type: 'refresh_failed'; id: string; status: number };

export interface DbscBrowserOptions {
  /** Sends a request: global `fetch` against a listening server, or any handler of the same shape. */
  fetch: (url: string, init: RequestInit) => Promise<Response>;
  /** The origin requests go to, e.g. `http://127.0.0.1:3000`. */
  origin: string;
  /** The browser's clock, for cookie lifetimes. Default `Date.now`. */
  clock?: () => number;
  /** False: a browser without DBSC (it ignores the registration header). Default true. */
  dbsc?: boolean;
  algorithm?: DbscTestAlgorithm;
  /** Send `Secure-Session-Response`/`Sec-Secure-Session-Id` as sf-strings (the spec) instead of raw (Chromium). */
  quoteHeaders?: boolean;
  /** Headers added to every request (e.g. `Sec-Fetch-Site: same-origin`, `User-Agent`). */
  headers?: Record<string, string>;
}

export class DbscBrowser {
  readonly cookies = new Map<string, JarCookie>();
  readonly sessions = new Map<string, BoundSessionState>();
  readonly events: DbscBrowserEvent[] = [];
  /** The last refresh proof sent, for replay tests. */
  lastProof: string | null = null;
  private readonly clock: () => number;

  constructor(readonly options: DbscBrowserOptions) {
    this.clock = options.clock ?? Date.now;
  }

  /** A copy of the cookie jar with no keys and no bound sessions: what an infostealer takes away. */
  steal(): DbscBrowser {
    const thief = new DbscBrowser({ ...this.options, dbsc: false });
    for (const [name, cookie] of this.cookies) thief.cookies.set(name, { ...cookie });
    return thief;
  }

  cookie(name: string): string | null {
    const c = this.cookies.get(name);
    if (!c || (c.expiresAt !== null && this.clock() >= c.expiresAt)) return null;
    return c.value;
  }

  cookieHeader(): string {
    const now = this.clock();
    const pairs: string[] = [];
    for (const [name, c] of this.cookies) {
      if (c.expiresAt !== null && now >= c.expiresAt) continue;
      pairs.push(`${name}=${c.value}`);
    }
    return pairs.join('; ');
  }

  /** A request as the page would make it: refreshes any bound session whose cookie is gone first. */
  async request(
    path: string,
    init: RequestInit = {},
    options: { refresh?: boolean } = {},
  ): Promise<Response> {
    if (options.refresh !== false) {
      for (const s of [...this.sessions.values()]) {
        if (this.cookie(s.cookieName) === null) await this.refresh(s.id);
      }
    }
    const response = await this.send(path, init);
    await this.afterResponse(response);
    return response;
  }

  /** Runs a refresh as Chromium does; returns the final status (200 refreshed or ended, else the failure). */
  async refresh(id: string, options: { key?: DbscTestKey } = {}): Promise<number> {
    const s = this.sessions.get(id);
    if (!s) throw new Error(`no bound session ${id}`);
    for (let attempt = 0; attempt < 5; attempt++) {
      const headers: Record<string, string> = { 'Sec-Secure-Session-Id': this.quote(s.id) };
      if (s.challenge !== null) {
        const proof = await signDbscProof(options.key ?? s.key, s.challenge, false);
        this.lastProof = proof;
        headers['Secure-Session-Response'] = this.quote(proof);
        s.challenge = null;
      }
      const response = await this.send(s.refreshUrl, { method: 'POST', headers });
      this.storeCookies(response);
      this.cacheChallenges(response);
      if (response.status === 403) {
        this.events.push({ type: 'challenged', id });
        continue;
      }
      if (response.status === 200) {
        const body = (await response.json()) as { continue?: boolean; session_identifier?: string };
        if (body.continue === false) {
          this.sessions.delete(id);
          this.events.push({ type: 'terminated', id });
        } else this.events.push({ type: 'refreshed', id });
        return 200;
      }
      this.events.push({ type: 'refresh_failed', id, status: response.status });
      return response.status;
    }
    this.events.push({ type: 'refresh_failed', id, status: 403 });
    return 403;
  }

  /** Posts a refresh with exactly this proof (replay tests); returns the raw response. */
  async sendProof(id: string, proof: string | null): Promise<Response> {
    const headers: Record<string, string> = { 'Sec-Secure-Session-Id': this.quote(id) };
    if (proof !== null) headers['Secure-Session-Response'] = this.quote(proof);
    const s = this.sessions.get(id);
    const response = await this.send(s?.refreshUrl ?? '/dbsc/refresh', { method: 'POST', headers });
    this.storeCookies(response);
    this.cacheChallenges(response);
    return response;
  }

  private quote(value: string): string {
    return this.options.quoteHeaders ? `"${value}"` : value;
  }

  private async send(path: string, init: RequestInit): Promise<Response> {
    const headers = new Headers(init.headers);
    for (const [k, v] of Object.entries(this.options.headers ?? {})) if (!headers.has(k)) headers.set(k, v);
    const cookie = this.cookieHeader();
    if (cookie) headers.set('cookie', cookie);
    const url = new URL(path, this.options.origin).toString();
    return this.options.fetch(url, { ...init, headers });
  }

  private storeCookies(response: Response): void {
    const now = this.clock();
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      let expiresAt: number | null = null;
      for (const a of attrs) {
        const [k, v] = a.split('=');
        if (k!.trim().toLowerCase() === 'max-age') expiresAt = now + Number(v) * 1000;
      }
      if (expiresAt !== null && expiresAt <= now) this.cookies.delete(name);
      else this.cookies.set(name, { value, expiresAt });
    }
  }

  private cacheChallenges(response: Response): void {
    const header = response.headers.get('secure-session-challenge');
    if (!header) return;
    const parsed = parseChallenge(header);
    if (!parsed) return;
    const target = parsed.id ? this.sessions.get(parsed.id) : undefined;
    if (target) target.challenge = parsed.challenge;
  }

  private async afterResponse(response: Response): Promise<void> {
    this.storeCookies(response);
    this.cacheChallenges(response);
    const registration = response.headers.get('secure-session-registration');
    if (registration && this.options.dbsc !== false) await this.register(registration);
  }

  /** Answers a `Secure-Session-Registration` header as Chromium would. */
  async register(header: string): Promise<Response | null> {
    const algs = /^\s*\(([^)]*)\)/.exec(header)?.[1]?.split(/\s+/) ?? [];
    const want = this.options.algorithm ?? 'ES256';
    if (!algs.includes(want)) return null;
    const path = param(header, 'path');
    const challenge = param(header, 'challenge');
    if (!path || !challenge) return null;
    const key = await makeDbscKey(want);
    const proof = await signDbscProof(key, challenge, true);
    const response = await this.send(path, {
      method: 'POST',
      headers: { 'Secure-Session-Response': this.quote(proof) },
    });
    this.storeCookies(response);
    if (response.status !== 200) {
      this.events.push({ type: 'registration_failed', status: response.status, body: await response.text() });
      return response;
    }
    const config = (await response.clone().json()) as {
      session_identifier: string;
      refresh_url: string;
      credentials: { name: string }[];
    };
    this.sessions.set(config.session_identifier, {
      id: config.session_identifier,
      refreshUrl: config.refresh_url,
      cookieName: config.credentials[0]!.name,
      key,
      challenge: null,
    });
    this.cacheChallenges(response);
    this.events.push({ type: 'registered', id: config.session_identifier, status: 200 });
    return response;
  }
}
