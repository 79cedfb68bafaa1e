import { HttpClient } from './http.js';

/** One exchange as an observer on the wire sees it. */
export interface Exchange {
  method: string;
  url: string;
  requestHeaders: Record<string, string>;
  requestBody: string;
  status: number;
  responseHeaders: [string, string][];
  setCookies: string[];
  responseBody: string;
}

/**
 * An HttpClient that records every exchange (shared log across clones), for tests that inspect
 * everything that crossed the wire: Set-Cookie attributes, and where a token might leak.
 */
export class RecordingClient extends HttpClient {
  constructor(
    base: string,
    defaults: Record<string, string> = {},
    readonly log: Exchange[] = [],
  ) {
    super(base, defaults);
  }

  override clone(): RecordingClient {
    const c = new RecordingClient(this.base, this.defaults, this.log);
    for (const [k, v] of this.jar) c.jar.set(k, v);
    return c;
  }

  override async fetch(
    path: string,
    init: RequestInit & { headers?: Record<string, string> } = {},
  ): Promise<Response> {
    const headers: Record<string, string> = { ...this.defaults, ...(init.headers ?? {}) };
    if (this.jar.size > 0 && headers.cookie === undefined) headers.cookie = this.cookieHeader();
    const res = await super.fetch(path, init);
    // An event stream stays open: record its headers only.
    const streaming = res.headers.get('content-type')?.includes('text/event-stream');
    const copy = streaming ? null : res.clone();
    this.log.push({
      method: init.method ?? 'GET',
      url: `${this.base}${path}`,
      requestHeaders: headers,
      requestBody: typeof init.body === 'string' ? init.body : '',
      status: res.status,
      responseHeaders: [...res.headers.entries()].filter(([k]) => k !== 'set-cookie'),
      setCookies: res.headers.getSetCookie(),
      responseBody: copy ? await copy.text() : '',
    });
    return res;
  }
}
