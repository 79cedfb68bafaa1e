/**
 * The per-user session limit, both policies: `reject` (choose a session to end, or cancel) and
 * `evict-oldest` (the oldest session ends, and its screen says why).
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  device,
  launchBrowser,
  type RunningServer,
  screenshots,
  signedInAs,
  signIn,
  startServer,
} from './harness';

let browser: Browser;
beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
});

const heading = (page: Page, name: string | RegExp) => page.getByRole('heading', { level: 1, name });

describe('reject policy', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer({
      users: [{ email: 'gina@example.com' }],
      env: { SESSION_LIMIT_POLICY: 'reject', SESSION_MAX_PER_USER: '2' },
    });
  });
  afterAll(async () => {
    await server?.stop();
  });

  test('at the limit: list the sessions, cancel, or end one to continue', async () => {
    const a = await device(browser, server.url, 'laptop');
    const b = await device(browser, server.url, 'phone');
    const c = await device(browser, server.url, 'mac');
    await signIn(a, 'gina@example.com');
    await signedInAs(a);
    await signIn(b, 'gina@example.com');
    await signedInAs(b);

    await signIn(c, 'gina@example.com');
    await heading(c, 'You’re signed in on too many devices').waitFor();
    const list = c.getByRole('list', { name: 'Active sessions' });
    await expect.poll(() => list.getByRole('listitem').count()).toBe(2);
    expect(await list.getByText('Chrome 138 on Windows 10').count()).toBe(1);
    expect(await list.getByText('Mobile Safari 18 on iOS 18.5').count()).toBe(1);
    expect(await list.getByText('127.0.0.1').count()).toBe(2);
    await screenshots(c, 'session-limit');

    await c.getByRole('button', { name: 'Cancel' }).click();
    await heading(c, 'Sign in').waitFor();

    await signIn(c, 'gina@example.com');
    await heading(c, 'You’re signed in on too many devices').waitFor();
    await c.getByRole('button', { name: 'Sign out Mobile Safari 18 on iOS 18.5 and continue' }).click();
    await signedInAs(c);
    await heading(b, 'You were signed out from another device').waitFor({ timeout: 5_000 });
    // A is untouched.
    await a.reload();
    await signedInAs(a);
    for (const page of [a, b, c]) await page.context().close();
  });
});

describe('evict-oldest policy', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer({
      users: [{ email: 'frank@example.com' }],
      env: { SESSION_LIMIT_POLICY: 'evict-oldest', SESSION_MAX_PER_USER: '2' },
    });
  });
  afterAll(async () => {
    await server?.stop();
  });

  test('a new sign-in at the limit ends the oldest session, which says why', async () => {
    const a = await device(browser, server.url, 'laptop');
    const b = await device(browser, server.url, 'phone');
    const c = await device(browser, server.url, 'mac');
    await signIn(a, 'frank@example.com');
    await signedInAs(a);
    await signIn(b, 'frank@example.com');
    await signedInAs(b);
    await signIn(c, 'frank@example.com');
    await signedInAs(c);

    await heading(a, 'You were signed out to make room for a new sign-in').waitFor({ timeout: 5_000 });
    await screenshots(a, 'signed-out-evicted');
    await b.reload();
    await signedInAs(b);
    for (const page of [a, b, c]) await page.context().close();
  });
});
