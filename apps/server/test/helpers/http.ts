/**
 * A tiny tRPC-over-HTTP client with a cookie jar, so tests see exactly what goes over the wire:
 * queries are GET /trpc/<path>?input=..., mutations POST JSON (with Origin, like a browser).
 */
/** A JSON value read loosely by tests. */
// biome-ignore lint/suspicious/noExplicitAny: test responses are checked by assertions, not types
type Loose = any;

export interface CallResult<T = Loose> {
  status: number;
  ok: boolean;
  data: T;
  error: { message: string; code: number; data: Record<string, Loose> } | undefined;
  headers: Headers;
  setCookies: string[];
}

export const TEST_ORIGIN = 'http://tessera.test';

export class HttpClient {
  readonly jar = new Map<string, string>();
  constructor(
    readonly base: string,
    readonly defaults: Record<string, string> = {},
  ) {}

  cookieHeader(): string {
    return [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  /** The session token currently in the jar (any cookie whose name ends in "tessera"). */
  get sessionToken(): string | undefined {
    for (const [k, v] of this.jar) if (/tessera$/.test(k)) return v;
    return undefined;
  }

  clone(): HttpClient {
    const c = new HttpClient(this.base, this.defaults);
    for (const [k, v] of this.jar) c.jar.set(k, v);
    return c;
  }

  async fetch(
    path: string,
    init: RequestInit & { headers?: Record<string, string> } = {},
  ): Promise<Response> {
    const headers: Record<string, string> = { ...this.defaults, ...(init.headers ?? {}) };
    if (this.jar.size > 0 && headers.cookie === undefined) headers.cookie = this.cookieHeader();
    const res = await fetch(`${this.base}${path}`, { ...init, headers });
    for (const sc of res.headers.getSetCookie()) {
      const [pair = '', ...attrs] = sc.split(';');
      const i = pair.indexOf('=');
      const name = pair.slice(0, i).trim();
      const value = pair.slice(i + 1).trim();
      if (!value || attrs.some((a) => /max-age=0/i.test(a))) this.jar.delete(name);
      else this.jar.set(name, value);
    }
    return res;
  }

  private async result(res: Response): Promise<CallResult> {
    const text = await res.text();
    let body: Loose = null;
    try {
      body = JSON.parse(text);
    } catch {
      body = null;
    }
    return {
      status: res.status,
      ok: res.ok,
      data: body?.result?.data,
      error: body?.error,
      headers: res.headers,
      setCookies: res.headers.getSetCookie(),
    };
  }

  async query(path: string, input?: unknown, headers: Record<string, string> = {}): Promise<CallResult> {
    const qs = input === undefined ? '' : `?input=${encodeURIComponent(JSON.stringify(input))}`;
    return this.result(await this.fetch(`/trpc/${path}${qs}`, { headers }));
  }

  async mutation(path: string, input?: unknown, headers: Record<string, string> = {}): Promise<CallResult> {
    return this.result(
      await this.fetch(`/trpc/${path}`, {
        method: 'POST',
        headers: { origin: TEST_ORIGIN, 'content-type': 'application/json', ...headers },
        body: JSON.stringify(input === undefined ? null : input),
      }),
    );
  }
}

/** Parses one Set-Cookie header into name, value and lower-cased attributes. */
export function parseSetCookie(header: string) {
  const [pair = '', ...rest] = header.split(';').map((s) => s.trim());
  const i = pair.indexOf('=');
  const attributes: Record<string, string | true> = {};
  for (const a of rest) {
    const j = a.indexOf('=');
    if (j === -1) attributes[a.toLowerCase()] = true;
    else attributes[a.slice(0, j).toLowerCase()] = a.slice(j + 1);
  }
  return { name: pair.slice(0, i), value: pair.slice(i + 1), attributes };
}
