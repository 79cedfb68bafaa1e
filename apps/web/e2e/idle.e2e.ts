/**
 * The idle timeout with a short SESSION_IDLE_TIMEOUT (20 s, so the warning shows 10 s before):
 * nothing in the background keeps the session alive, "Stay signed in" does, and doing nothing ends
 * it with the reason.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import {
  device,
  launchBrowser,
  type RunningServer,
  screenshots,
  signedInAs,
  signIn,
  startServer,
} from './harness';

let server: RunningServer;
let browser: Browser;
beforeAll(async () => {
  server = await startServer({
    users: [{ email: 'hank@example.com' }],
    env: { SESSION_IDLE_TIMEOUT: '20s' },
  });
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

const heading = (page: Page, name: string | RegExp) => page.getByRole('heading', { level: 1, name });

test('idle warning with a countdown, "Stay signed in", then sign-out for inactivity', async () => {
  const page = await device(browser, server.url);
  await signIn(page, 'hank@example.com');
  await signedInAs(page);
  await page.waitForLoadState('networkidle').catch(() => {});

  // From here on, only the event stream may talk to the server: no polling, no refetch.
  const requests: string[] = [];
  page.on('request', (request) => {
    const url = new URL(request.url());
    if (url.pathname.startsWith('/trpc/') && !url.pathname.includes('events.onSessionEnded'))
      requests.push(url.pathname);
  });

  const dialog = page.getByRole('alertdialog', { name: 'Are you still there?' });
  await dialog.waitFor({ timeout: 15_000 });
  expect(requests).toEqual([]);
  await expect.poll(() => dialog.locator('.countdown').textContent()).toMatch(/^0:(0\d|10)$/);
  await screenshots(page, 'idle-warning', { fullPage: false });

  // Focus went to "Stay signed in"; the keyboard is enough.
  await page.keyboard.press('Enter');
  await dialog.waitFor({ state: 'hidden' });
  expect(requests).toEqual(['/trpc/auth.ping']);

  // Warned again ~10 s later; doing nothing ends the session for inactivity.
  await dialog.waitFor({ timeout: 15_000 });
  await heading(page, 'You were signed out after a period of inactivity').waitFor({ timeout: 15_000 });
  await screenshots(page, 'signed-out-idle');
  expect(requests).toEqual(['/trpc/auth.ping']);

  // The server agrees: the old cookie is dead.
  await page.goto('/sessions');
  await expect.poll(() => page.url()).toMatch(/\/(signed-out\?reason=idle_timeout|sign-in)$/);
  await page.context().close();
});
