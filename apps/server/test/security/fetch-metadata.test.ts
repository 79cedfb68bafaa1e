/**
 * Fetch metadata on reads (issue 9, defect 6): a GET or HEAD to /trpc passes only as
 * `Sec-Fetch-Site: same-origin`, or without fetch metadata at all (curl, scripts, old browsers).
 * `same-site` (a sibling subdomain, which could otherwise keep a victim's idle session alive or read
 * the session-ended stream with their cookie), `cross-site` and `none` (a typed URL, a bookmark) are
 * 403 before context creation: no session lookup, so nothing touches the idle clock. (OWASP CSRF
 * Prevention Cheat Sheet, "Fetch Metadata headers"; W3C Fetch Metadata Request Headers.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type TestApp, uniqueEmail } from '../helpers/app.js';
import { subscribeSessionEnded } from '../helpers/sse.js';

let app: TestApp;
beforeAll(async () => {
  app = await startApp();
});
afterAll(async () => {
  await app?.stop();
});

/** Counts session lookups (context creation with a cookie) while `run` runs. */
async function sessionLookups(run: () => Promise<void>): Promise<number> {
  const sessions = app.runtime.deps.sessions;
  const original = sessions.validate;
  let calls = 0;
  sessions.validate = (...args) => {
    calls++;
    return original(...args);
  };
  try {
    await run();
  } finally {
    sessions.validate = original;
  }
  return calls;
}

const REFUSED = ['same-site', 'cross-site', 'none'] as const;

describe('GET and HEAD on /trpc by Sec-Fetch-Site', () => {
  it.each([
    ['same-origin', 200],
    ['absent (a client without fetch metadata)', 200],
    ...REFUSED.map((site) => [site, 403] as [string, number]),
  ])('%s: %i', async (site, status) => {
    const c = await app.signedIn(uniqueEmail());
    const headers: Record<string, string> = site.startsWith('absent') ? {} : { 'sec-fetch-site': site };
    for (const path of ['auth.me', 'sessions.list']) {
      let r: Awaited<ReturnType<typeof c.query>> | undefined;
      const lookups = await sessionLookups(async () => {
        r = await c.query(path, undefined, headers);
      });
      expect(r?.status, `${path} as ${site}`).toBe(status);
      if (status === 403) {
        expect(r?.error?.data).toMatchObject({ code: 'FORBIDDEN', httpStatus: 403 });
        expect(r?.data).toBeUndefined();
        expect(lookups, 'refused before the session is looked up (its idle clock untouched)').toBe(0);
        expect(r?.headers.get('cache-control')).toBe('no-store');
      }
    }
    const head = await c.fetch('/trpc/auth.me', { method: 'HEAD', headers });
    if (status === 403) expect(head.status, `HEAD as ${site}`).toBe(403);
    else expect(head.status, `HEAD as ${site}`).toBeLessThan(300);
  });

  it.each(REFUSED)('the session-ended stream (SSE) as %s: 403', async (site) => {
    const c = await app.signedIn(uniqueEmail());
    const res = await c.fetch('/trpc/events.onSessionEnded', {
      headers: { accept: 'text/event-stream', 'sec-fetch-site': site },
    });
    expect(res.status).toBe(403);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    await res.arrayBuffer();
  });

  it('the session-ended stream still opens for the app itself (same-origin)', async () => {
    const c = await app.signedIn(uniqueEmail());
    const browser = app.client({ 'sec-fetch-site': 'same-origin' });
    for (const [name, value] of c.jar) browser.jar.set(name, value);
    const stream = await subscribeSessionEnded(browser);
    expect(stream.status).toBe(200);
    expect(stream.contentType).toMatch(/^text\/event-stream/);
    const ended = stream.next();
    expect((await c.mutation('auth.logout')).status).toBe(200);
    expect((await ended).reason).toBe('logged_out');
    stream.close();
  });

  it('mutations are unchanged: same-origin passes, same-site does not', async () => {
    const c = await app.signedIn(uniqueEmail());
    expect((await c.mutation('auth.ping', undefined, { 'sec-fetch-site': 'same-site' })).status).toBe(403);
    expect((await c.mutation('auth.ping', undefined, { 'sec-fetch-site': 'same-origin' })).status).toBe(200);
  });
});
