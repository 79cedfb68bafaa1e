/**
 * A browser's cookie handling, as much as these tests need: keeps the cookies a response sets (a
 * `Max-Age=0` one deletes), sends them back, and remembers the raw Set-Cookie lines of the last reply.
 */
export class Browser {
  readonly cookies = new Map<string, string>();
  lastSetCookie: string[] = [];

  constructor(
    private readonly base: string,
    private readonly userAgent = 'Mozilla/5.0 (test)',
  ) {}

  /** `T`: the JSON the test expects back (not checked: the assertions do that). */
  async request<T = Record<string, unknown>>(method: string, path: string, body?: unknown) {
    const headers: Record<string, string> = { 'user-agent': this.userAgent };
    if (this.cookies.size > 0) {
      headers.cookie = [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
    }
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${this.base}${path}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    this.lastSetCookie = res.headers.getSetCookie();
    for (const line of this.lastSetCookie) {
      const [pair = '', ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      if (attributes.some((a) => a.trim().toLowerCase() === 'max-age=0')) this.cookies.delete(name);
      else this.cookies.set(name, pair.slice(eq + 1).trim());
    }
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
  }

  /** A copy holding the same cookies: the same browser profile, or a stolen cookie. */
  clone(): Browser {
    const copy = new Browser(this.base, this.userAgent);
    for (const [name, value] of this.cookies) copy.cookies.set(name, value);
    return copy;
  }
}
