/**
 * The cookie handling a browser would do, for one API origin: keeps what `Set-Cookie` sets (a `Max-Age=0`
 * or past `Expires` deletes), sends it back as `Cookie`. It talks to a single origin, so Domain and Path
 * don't matter here; keep one jar per signed-in identity, in memory (the session token is a credential:
 * never log it or write it to disk).
 */
export class CookieJar {
  private readonly cookies = new Map<string, string>();

  /** A `fetch` that sends the jar's cookies and stores the ones each response sets. */
  readonly fetch: typeof fetch = async (input, init) => {
    const headers = new Headers(init?.headers);
    if (this.cookies.size > 0) headers.set('cookie', this.header());
    const res = await fetch(input, { ...init, headers });
    for (const line of res.headers.getSetCookie()) this.store(line);
    return res;
  };

  /** Whether the jar holds a cookie of this name (e.g. the session cookie after a sign-in). */
  has(name: string): boolean {
    return this.cookies.has(name);
  }

  /** A second jar holding the same cookies (two clients sharing one session). */
  clone(): CookieJar {
    const copy = new CookieJar();
    for (const [name, value] of this.cookies) copy.cookies.set(name, value);
    return copy;
  }

  private header(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  private store(line: string): void {
    const [pair = '', ...attributes] = line.split(';');
    const eq = pair.indexOf('=');
    if (eq <= 0) return;
    const name = pair.slice(0, eq).trim();
    const expired = attributes.some((raw) => {
      const [key = '', value = ''] = raw.split('=').map((s) => s.trim());
      if (key.toLowerCase() === 'max-age') return Number(value) <= 0;
      if (key.toLowerCase() === 'expires') return Date.parse(value) <= Date.now();
      return false;
    });
    if (expired) this.cookies.delete(name);
    else this.cookies.set(name, pair.slice(eq + 1).trim());
  }
}
