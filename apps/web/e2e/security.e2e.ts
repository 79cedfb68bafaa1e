/**
 * Security activity and the admin console (issue 12) on one server, with a 3-second "fresh" window
 * so that sensitive actions ask for the password again: a person's Recent activity after a failed
 * and a good sign-in, "This wasn't me" ending the other device and leading to the password change;
 * an administrator revoking a session, resetting two-step verification, disabling an account (its
 * open tab signed out at once, saying why; sign-in refused with its own message after the right
 * password only) and enabling it again; the audit log and its filters.
 */
import { Secret, TOTP } from 'otpauth';
import type { Browser, Locator, Page } from 'playwright-core';
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
      { email: 'root@example.com', role: 'admin' },
      { email: 'frank@example.com' },
      { email: 'gwen@example.com' },
      { email: 'hana@example.com' },
      { email: 'henry@example.com', role: 'admin' },
    ],
    env: { FRESH_AUTH_WINDOW: '3s' },
  });
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

const heading = (page: Page, name: string | RegExp) => page.getByRole('heading', { level: 1, name });

/** An event's facts ("By", "Device", "IP address", "When") as the page shows them. */
const facts = (item: Locator) =>
  item.evaluate((li) =>
    Object.fromEntries(
      [...li.querySelectorAll('dt')].map((dt) => [dt.textContent, dt.nextElementSibling?.textContent]),
    ),
  );

/** Audit events are written off the request path (a few ms later): refresh until `check` holds. */
async function refreshUntil(page: Page, check: () => Promise<boolean>): Promise<void> {
  await expect
    .poll(async () => {
      if (await check()) return true;
      await page.getByRole('button', { name: 'Refresh' }).click();
      await page.waitForTimeout(300);
      return check();
    })
    .toBe(true);
}

/** Turns two-step verification on from the Security page, with the key shown in the page. */
async function enrollMfa(page: Page): Promise<void> {
  await page.getByRole('link', { name: 'Security' }).click();
  await page.getByRole('button', { name: 'Turn on two-step verification' }).click();
  await confirmPasswordIfAsked(page);
  const key = (await page.locator('code.secret').textContent())!.replace(/\s/g, '');
  const code = TOTP.generate({ secret: Secret.fromBase32(key), algorithm: 'SHA1', digits: 6, period: 30 });
  await page.getByLabel('6-digit code').fill(code);
  await page.getByRole('button', { name: 'Turn on', exact: true }).click();
  await confirmPasswordIfAsked(page);
  await expect
    .poll(() => page.getByRole('status').filter({ hasText: 'Two-step' }).textContent())
    .toContain('Two-step verification is on');
}

describe('recent activity', () => {
  test('a failed and a good sign-in are listed; "This wasn’t me" signs out the other device and leads to the password change', async () => {
    const linux = await device(browser, server.url, 'linux');
    await signIn(linux, 'frank@example.com');
    await signedInAs(linux);

    const laptop = await device(browser, server.url, 'laptop');
    await signIn(laptop, 'frank@example.com', 'not my password at all');
    await expect
      .poll(() => laptop.getByRole('alert').textContent())
      .toContain('The email or password is incorrect');
    await signIn(laptop, 'frank@example.com');
    await signedInAs(laptop);

    await laptop.getByRole('link', { name: 'Activity' }).click();
    await heading(laptop, 'Recent activity').waitFor();
    const items = laptop.getByRole('list').first().getByRole('listitem');
    await refreshUntil(laptop, async () => (await items.count()) >= 3);
    expect(await items.evaluateAll((lis) => lis.map((li) => li.getAttribute('aria-label')))).toEqual([
      'Signed in',
      'Failed: Failed sign-in: wrong password',
      'Signed in',
    ]);
    const [mine, failed, other] = [items.nth(0), items.nth(1), items.nth(2)];
    expect(await facts(mine)).toEqual({
      By: 'you, on this device',
      Device: 'Chrome 138 on Windows 10',
      'IP address': '127.0.0.1',
      When: 'just now',
    });
    expect(await mine.getByRole('button').count()).toBe(0);
    expect((await facts(failed)).By).toBe('someone signing in');
    expect(await failed.evaluate((li) => li.classList.contains('event--alert'))).toBe(true);
    expect((await facts(other)).By).toBe('you, on Firefox 140 on Linux');
    await screenshots(laptop, 'security-activity');

    await other.getByRole('button', { name: /^This wasn’t me/ }).click();
    const dialog = laptop.getByRole('dialog', { name: 'Secure your account' });
    await dialog.waitFor();
    expect(await dialog.textContent()).toContain('Someone signed in on Firefox 140 on Linux from 127.0.0.1');
    await screenshots(laptop, 'security-not-me', { fullPage: false });
    await dialog.getByRole('button', { name: 'Sign out everywhere else' }).click();
    await confirmPasswordIfAsked(laptop);

    // Here: the password change, its first field focused, with what happened said above it.
    await heading(laptop, 'Security').waitFor();
    expect(new URL(laptop.url()).pathname + new URL(laptop.url()).hash).toBe('/account#change-password');
    await expect
      .poll(() => laptop.evaluate(() => document.activeElement?.getAttribute('autocomplete')))
      .toBe('current-password');
    expect(await laptop.getByRole('status').filter({ hasText: 'We signed out' }).textContent()).toContain(
      'We signed out 1 other session. Now change your password',
    );
    // There: the other device's screen ended at once, with the reason.
    await heading(linux, 'You were signed out from another device').waitFor({ timeout: 5_000 });

    const newPassword = 'frank chose a fresh passphrase';
    await laptop.getByLabel('Current password').fill(PASSWORD);
    await laptop.getByLabel('New password', { exact: true }).fill(newPassword);
    await laptop.getByLabel('Confirm new password').fill(newPassword);
    await laptop.getByRole('button', { name: 'Change password' }).click();
    await expect
      .poll(() => laptop.getByRole('status').filter({ hasText: 'password was changed' }).textContent())
      .toContain('You weren’t signed in anywhere else');
    await laptop.context().close();
    await linux.context().close();
  });
});

describe('admin console', () => {
  test('a user’s page: revoke a session, reset two-step, disable (the open tab leaves at once) and enable', async () => {
    // Gwen turned two-step verification on from her phone, which stays signed in.
    const gwenPhone = await device(browser, server.url, 'phone');
    await signIn(gwenPhone, 'gwen@example.com');
    await signedInAs(gwenPhone);
    await enrollMfa(gwenPhone);
    const gwenMac = await device(browser, server.url, 'mac');

    const root = await device(browser, server.url, 'laptop');
    await signIn(root, 'root@example.com');
    await signedInAs(root);
    await root.getByRole('link', { name: 'Admin' }).click();
    await heading(root, 'Users').waitFor();
    await expect.poll(() => root.getByRole('row').count()).toBe(6);
    await screenshots(root, 'admin-users');

    // Case-insensitive prefix search, asked once the typing pauses.
    await root.getByRole('searchbox', { name: 'Search by email' }).fill('GW');
    await expect.poll(() => root.getByRole('row').count()).toBe(2);
    const row = root.getByRole('row', { name: /gwen@example\.com/ });
    expect(await row.textContent()).toContain('2-step');
    await row.getByRole('link', { name: 'gwen@example.com' }).click();
    await heading(root, 'gwen@example.com').waitFor();

    // The admin resets two-step verification (Gwen lost her phone), after the password prompt.
    await root.waitForTimeout(3_200); // past the fresh window
    await root.getByRole('button', { name: 'Reset two-step verification' }).click();
    await root
      .getByRole('dialog', { name: 'Reset two-step verification?' })
      .getByRole('button', { name: 'Reset two-step verification' })
      .click();
    expect(await confirmPasswordIfAsked(root)).toBe(true);
    await expect
      .poll(() => root.getByRole('status').first().textContent())
      .toContain('Two-step verification is off for gwen@example.com');

    // Now Gwen signs in on her Mac with her password alone.
    await signIn(gwenMac, 'gwen@example.com');
    await signedInAs(gwenMac);

    await root.getByRole('button', { name: 'Refresh' }).click();
    const sessions = root.getByRole('region', { name: /^Sessions/ });
    await expect.poll(() => sessions.getByRole('listitem').count()).toBe(2);
    const events = root.getByRole('region', { name: 'Recent events' }).getByRole('listitem');
    await refreshUntil(root, async () => (await events.count()) >= 4);
    expect(await events.first().getAttribute('aria-label')).toBe('Signed in');
    await screenshots(root, 'admin-user');

    // Revoke the Mac: its screen ends at once.
    await sessions.getByRole('button', { name: /^Sign out Safari/ }).click();
    await confirmPasswordIfAsked(root);
    await expect.poll(() => root.getByRole('status').first().textContent()).toMatch(/^Signed out Safari/);
    await heading(gwenMac, 'You were signed out from another device').waitFor({ timeout: 5_000 });
    await expect.poll(() => sessions.getByRole('listitem').count()).toBe(1);

    // Disable: the phone's open tab is signed out live, and says why.
    await root.waitForTimeout(3_200);
    await root.getByRole('button', { name: 'Disable account' }).click();
    await root
      .getByRole('dialog', { name: 'Disable gwen@example.com?' })
      .getByRole('button', { name: 'Disable account' })
      .click();
    expect(await confirmPasswordIfAsked(root)).toBe(true);
    await expect
      .poll(() => root.getByRole('status').first().textContent())
      .toBe('gwen@example.com is disabled. 1 session ended.');
    await heading(gwenPhone, 'Your account was disabled').waitFor({ timeout: 5_000 });
    await screenshots(gwenPhone, 'signed-out-disabled');
    expect(await root.getByText('Not signed in anywhere.').count()).toBe(1);

    // Sign-in: a wrong password gets the usual words (nothing to learn), the right one the reason.
    await signIn(gwenPhone, 'gwen@example.com', 'a wrong password');
    await expect
      .poll(() => gwenPhone.getByRole('alert').textContent())
      .toContain('The email or password is incorrect');
    await signIn(gwenPhone, 'gwen@example.com');
    await expect
      .poll(() => gwenPhone.getByRole('alert').textContent())
      .toBe('This account is disabled. Contact your administrator.');
    await screenshots(gwenPhone, 'sign-in-disabled');

    // Enable: she signs in again.
    await root.getByRole('button', { name: 'Enable account' }).click();
    await root
      .getByRole('dialog', { name: 'Enable gwen@example.com?' })
      .getByRole('button', { name: 'Enable account' })
      .click();
    await confirmPasswordIfAsked(root);
    await expect
      .poll(() => root.getByRole('status').first().textContent())
      .toBe('gwen@example.com is enabled and can sign in again.');
    await signIn(gwenPhone, 'gwen@example.com');
    await signedInAs(gwenPhone);

    // Her own Recent activity says an administrator did it.
    await gwenPhone.getByRole('link', { name: 'Activity' }).click();
    await heading(gwenPhone, 'Recent activity').waitFor();
    const hers = gwenPhone.getByRole('list').first().getByRole('listitem');
    await refreshUntil(gwenPhone, async () => (await hers.count()) >= 6);
    const labels = await hers.evaluateAll((lis) => lis.map((li) => li.getAttribute('aria-label')));
    expect(labels).toEqual(
      expect.arrayContaining([
        'Account enabled',
        'Account disabled',
        'Session ended: account disabled',
        'Failed: Sign-in refused: account disabled',
        'Two-step verification turned off',
      ]),
    );
    expect((await facts(gwenPhone.locator('li[aria-label="Account disabled"]'))).By).toBe('an administrator');
    await root.context().close();
    await gwenPhone.context().close();
    await gwenMac.context().close();
  });

  test('the audit log: every account’s events, filtered by type, email and date', async () => {
    const hana = await device(browser, server.url, 'linux');
    await signIn(hana, 'hana@example.com', 'not hana’s password');
    await expect.poll(() => hana.getByRole('alert').textContent()).toContain('The email or password');
    await signIn(hana, 'hana@example.com');
    await signedInAs(hana);

    const henry = await device(browser, server.url, 'mac');
    await signIn(henry, 'henry@example.com');
    await signedInAs(henry);
    await henry.getByRole('link', { name: 'Admin' }).click();
    await henry.getByRole('link', { name: 'Audit log' }).click();
    await heading(henry, 'Audit log').waitFor();
    const events = henry.getByRole('region', { name: 'Events' }).getByRole('listitem');
    // Hana's two and Henry's sign-in at least (more when the other tests ran first).
    await refreshUntil(henry, async () => (await events.count()) >= 3);
    await screenshots(henry, 'audit-log');

    const filters = henry.getByRole('region', { name: 'Filters' });
    await filters.getByRole('checkbox', { name: 'Failed sign-ins' }).check();
    await filters.getByLabel('User email').fill('hana@example.com');
    const today = await henry.evaluate(() => {
      const d = new Date();
      return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
    });
    await filters.getByLabel('From', { exact: true }).fill(today);
    await filters.getByLabel('To', { exact: true }).fill(today);
    await filters.getByRole('button', { name: 'Apply filters' }).click();
    await expect.poll(() => events.count()).toBe(1);
    expect(await events.first().getAttribute('aria-label')).toBe('Failed: Failed sign-in: wrong password');
    expect((await facts(events.first())).Account).toBe('hana@example.com');
    expect(new URL(henry.url()).searchParams.get('types')).toBe('sign_in_failed');
    await screenshots(henry, 'audit-log-filtered');

    // Yesterday and before: nothing.
    await filters.getByLabel('From', { exact: true }).fill('2020-01-01');
    await filters.getByLabel('To', { exact: true }).fill('2020-01-02');
    await filters.getByRole('button', { name: 'Apply filters' }).click();
    await expect.poll(() => henry.getByText('No events match these filters.').count()).toBe(1);

    // Back to the unfiltered log, then to the user's page from an event.
    await filters.getByRole('button', { name: 'Clear filters' }).click();
    await refreshUntil(henry, async () => (await events.count()) >= 3);
    await events
      .filter({ hasText: 'hana@example.com' })
      .first()
      .getByRole('link', { name: 'hana@example.com' })
      .click();
    await heading(henry, 'hana@example.com').waitFor();
    await hana.context().close();
    await henry.context().close();
  });
});
