/**
 * The main flows on one server (evict-oldest, 3 sessions per user, a 3-second "fresh" window so
 * that sensitive actions ask for the password again, 3 failed attempts per account).
 */
import { Secret, TOTP } from 'otpauth';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  confirmPasswordIfAsked,
  device,
  launchBrowser,
  PASSWORD,
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
    users: [
      { email: 'alice@example.com', role: 'admin' },
      { email: 'bob@example.com', role: 'admin' },
      { email: 'carol@example.com' },
      { email: 'dave@example.com' },
      { email: 'erin@example.com' },
      { email: 'ivan@example.com' },
    ],
    env: { FRESH_AUTH_WINDOW: '3s', RATE_LIMIT_AUTH_PER_ACCOUNT: '3', SESSION_MAX_PER_USER: '3' },
  });
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

const heading = (page: Page, name: string | RegExp) => page.getByRole('heading', { level: 1, name });

describe('sign in', () => {
  test('a wrong password gets the generic error, too many get the retry time, the right one signs in', async () => {
    const page = await device(browser, server.url);
    await page.goto('/sign-in');
    await heading(page, 'Sign in').waitFor();
    await screenshots(page, 'sign-in');

    await signIn(page, 'carol@example.com', 'not the password at all');
    await expect
      .poll(() => page.getByRole('alert').textContent())
      .toContain('The email or password is incorrect');
    await screenshots(page, 'sign-in-error');

    // An unknown account gets the very same words, and is rate limited alike.
    for (let i = 0; i < 3; i++) {
      await signIn(page, 'nobody@example.com', `wrong ${i}`);
      await expect
        .poll(() => page.getByRole('alert').textContent())
        .toContain('The email or password is incorrect');
    }
    await signIn(page, 'nobody@example.com', 'wrong again');
    await expect
      .poll(() => page.getByRole('alert').textContent())
      .toMatch(/Too many sign-in attempts.*wait \d+ minutes?.*after/);
    await screenshots(page, 'sign-in-rate-limited');

    await signIn(page, 'carol@example.com');
    await signedInAs(page);
    await page.context().close();
  });
});

describe('two devices', () => {
  test('revoking B from A ends B at once, with the reason; the current session has no revoke button', async () => {
    const a = await device(browser, server.url, 'laptop');
    const b = await device(browser, server.url, 'phone');
    await signIn(b, 'dave@example.com');
    await signedInAs(b);
    await signIn(a, 'dave@example.com');
    await signedInAs(a);

    const current = a.getByRole('region', { name: 'Current session' });
    const others = a.getByRole('region', { name: /Other sessions/ });
    await expect.poll(() => others.getByRole('listitem').count()).toBe(1);
    expect(await current.getByText('This device').count()).toBe(1);
    expect(await current.getByRole('button').count()).toBe(0);
    // The sessions screenshot comes from device-bound.e2e.ts: it has a device-bound session to show.

    // Older than the 3-second fresh window: the server wants the password again.
    await a.waitForTimeout(3_500);
    await others.getByRole('button', { name: /^Sign out / }).click();
    const dialog = a.getByRole('dialog', { name: 'Confirm it’s you' });
    await dialog.waitFor();
    await screenshots(a, 'reauthenticate');
    await dialog.getByLabel('Password').fill('wrong password');
    await dialog.getByRole('button', { name: 'Confirm' }).click();
    await expect.poll(() => dialog.getByRole('alert').textContent()).toContain('That password is incorrect');
    await dialog.getByLabel('Password').fill(PASSWORD);
    await dialog.getByRole('button', { name: 'Confirm' }).click();
    await dialog.waitFor({ state: 'hidden' });
    await expect.poll(() => a.getByRole('status').first().textContent()).toMatch(/Signed out/);

    // B did nothing: the server's event ended its screen.
    await heading(b, 'You were signed out from another device').waitFor({ timeout: 5_000 });
    await screenshots(b, 'signed-out-revoked');
    await expect.poll(() => others.getByRole('listitem').count()).toBe(0);
    await a.context().close();
    await b.context().close();
  });

  test('a password change signs out the other device and says how many', async () => {
    const a = await device(browser, server.url, 'laptop');
    const b = await device(browser, server.url, 'mac');
    await signIn(b, 'erin@example.com');
    await signedInAs(b);
    await signIn(a, 'erin@example.com');
    await signedInAs(a);
    await a.getByRole('link', { name: 'Security' }).click();
    await heading(a, 'Security').waitFor();
    await screenshots(a, 'account');

    const newPassword = 'a brand new passphrase for erin';
    await a.getByLabel('Current password').fill(PASSWORD);
    await a.getByLabel('New password', { exact: true }).fill(newPassword);
    await a.getByLabel('Confirm new password').fill(newPassword);
    await a.getByRole('button', { name: 'Change password' }).click();
    await expect
      .poll(() => a.getByRole('status').filter({ hasText: 'password was changed' }).textContent())
      .toContain('1 other session was signed out');
    await screenshots(a, 'account-password-changed');

    await heading(b, 'Your password was changed').waitFor({ timeout: 5_000 });
    await screenshots(b, 'signed-out-password-changed');

    // This device stays signed in (its session rotated), and the new password works elsewhere.
    await a.getByRole('link', { name: 'Devices' }).click();
    await signedInAs(a);
    await signIn(b, 'erin@example.com', newPassword);
    await signedInAs(b);
    await a.context().close();
    await b.context().close();
  });
});

describe('MFA', () => {
  test('enroll with the QR code, then sign in with a code (attempts left shown)', async () => {
    const page = await device(browser, server.url);
    await signIn(page, 'carol@example.com');
    await signedInAs(page);
    await page.getByRole('link', { name: 'Security' }).click();
    await page.waitForTimeout(3_200); // past the fresh window: enrollment asks for the password
    await page.getByRole('button', { name: 'Turn on two-step verification' }).click();
    expect(await confirmPasswordIfAsked(page)).toBe(true);
    await page.getByRole('img', { name: 'QR code for your authenticator app' }).waitFor();
    await screenshots(page, 'mfa-enroll');

    const key = (await page.locator('code.secret').textContent())!.replace(/\s/g, '');
    const totp = (timestamp: number) =>
      TOTP.generate({ secret: Secret.fromBase32(key), algorithm: 'SHA1', digits: 6, period: 30, timestamp });
    await page.getByLabel('6-digit code').fill(totp(Date.now()));
    await page.getByRole('button', { name: 'Turn on', exact: true }).click();
    await expect
      .poll(() => page.getByRole('status').filter({ hasText: 'Two-step' }).textContent())
      .toContain('Two-step verification is on');

    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await heading(page, 'You signed out').waitFor();
    await screenshots(page, 'signed-out');

    await signIn(page, 'carol@example.com');
    await heading(page, 'Two-step verification').waitFor();
    await page.getByLabel('Verification code').fill('000000');
    await page.getByRole('button', { name: 'Verify' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('4 attempts left');
    expect(await page.getByText('4 attempts left', { exact: true }).count()).toBe(1);
    await screenshots(page, 'mfa-step');

    // The enrollment used this time step's code; the next step's code is new (and within the window).
    await page.getByLabel('Verification code').fill(totp(Date.now() + 30_000));
    await page.getByRole('button', { name: 'Verify' }).click();
    await signedInAs(page);
    await page.context().close();
  });
});

describe('tabs', () => {
  test('every tab of the browser follows a sign-out in another', async () => {
    const first = await device(browser, server.url);
    await signIn(first, 'ivan@example.com');
    await signedInAs(first);
    const second = await first.context().newPage();
    await second.goto('/account');
    await heading(second, 'Security').waitFor();

    await first.getByRole('button', { name: 'Sign out', exact: true }).click();
    await heading(first, 'You signed out').waitFor();
    await heading(second, 'You signed out').waitFor({ timeout: 5_000 });
    expect(await second.getByText('You signed out in another tab of this browser.').count()).toBe(1);
    // Nothing about the session is kept in browser storage.
    const stored = await second.evaluate(() => ({
      local: localStorage.length,
      session: sessionStorage.length,
    }));
    expect(stored).toEqual({ local: 0, session: 0 });
    await first.context().close();
  });
});

describe('admin', () => {
  test('a demoted admin loses the admin screen on the next request', async () => {
    const alice = await device(browser, server.url, 'laptop');
    const bob = await device(browser, server.url, 'mac');
    await signIn(bob, 'bob@example.com');
    await signedInAs(bob);
    await bob.getByRole('link', { name: 'Admin' }).click();
    await heading(bob, 'Users').waitFor();

    await signIn(alice, 'alice@example.com');
    await signedInAs(alice);
    await alice.getByRole('link', { name: 'Admin' }).click();
    await heading(alice, 'Users').waitFor();
    await alice.getByRole('link', { name: 'bob@example.com' }).click();
    await heading(alice, 'bob@example.com').waitFor();
    await alice.getByRole('button', { name: 'Make bob@example.com a user' }).click();
    await confirmPasswordIfAsked(alice);
    await expect
      .poll(() => alice.getByRole('status').first().textContent())
      .toContain('bob@example.com is now a user');

    // Bob's next request (refreshing the list) is refused: the admin screen goes away.
    await bob.getByRole('button', { name: 'Refresh' }).click();
    await signedInAs(bob);
    expect(bob.url()).toMatch(/\/sessions$/);
    await expect.poll(() => bob.getByText('Your administrator access was removed').count()).toBe(1);
    expect(await bob.getByRole('link', { name: 'Admin' }).count()).toBe(0);
    await screenshots(bob, 'admin-removed');
    await alice.context().close();
    await bob.context().close();
  });
});
