/**
 * Device-bound sessions (DBSC, issue 13) as a person sees them, on a server where browsers may bind
 * (APP_ORIGIN on http://localhost, DBSC=on). This Chromium doesn't bind (no TPM, no developer flags),
 * so the bound device is session-core's test browser over HTTP: a Chrome on another Windows PC that
 * signed in and registered a key. The sessions page marks that session "Device-bound"; its session
 * cookie copied into another browser is refused there, in plain words, while the PC stays signed in;
 * a proof signed with a key that isn't the session's is refused and stands out in Recent activity.
 */

import { DbscBrowser, makeDbscKey } from '@tessera/session-core/testing';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  device,
  launchBrowser,
  PASSWORD,
  type RunningServer,
  screenshots,
  signedInAs,
  signIn,
  startServer,
} from './harness';

/** Chrome binds on Windows (Chrome 145 and later, its key in the TPM). */
const WORK_PC =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/145.0.0.0 Safari/537.36';
/** session-core's default registrationGrace: until then the session cookie alone still passes. */
const REGISTRATION_GRACE_MS = 10_000;

let server: RunningServer;
let browser: Browser;

beforeAll(async () => {
  server = await startServer({
    users: [{ email: 'dave@example.com' }],
    host: 'localhost',
    env: { DBSC: 'on' },
  });
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

const heading = (page: Page, name: string | RegExp) => page.getByRole('heading', { level: 1, name });

/** The PC: signs in over HTTP as the SPA would, and answers the registration header with a new key. */
async function signInBound(email: string): Promise<{ pc: DbscBrowser; id: string; boundAt: number }> {
  const pc = new DbscBrowser({
    fetch: (url, init) => fetch(url, init),
    origin: server.direct,
    headers: { 'sec-fetch-site': 'same-origin', 'user-agent': WORK_PC },
  });
  const login = await pc.request('/trpc/auth.login', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password: PASSWORD }),
  });
  expect(login.status).toBe(200);
  const boundAt = Date.now();
  expect(pc.events).toEqual([{ type: 'registered', id: expect.any(String), status: 200 }]);
  return { pc, id: [...pc.sessions.keys()][0]!, boundAt };
}

describe('device-bound sessions', () => {
  let pc: DbscBrowser;
  let pcSession: string;
  let laptop: Page;

  test('the sessions page marks the bound one; its cookie copied elsewhere is refused there, in plain words', async () => {
    const bound = await signInBound('dave@example.com');
    pc = bound.pc;
    pcSession = bound.id;
    const phone = await device(browser, server.url, 'phone');
    await signIn(phone, 'dave@example.com');
    await signedInAs(phone);
    laptop = await device(browser, server.url, 'laptop');
    await signIn(laptop, 'dave@example.com');
    await signedInAs(laptop);

    const current = laptop.getByRole('region', { name: 'Current session' });
    const others = laptop.getByRole('region', { name: /Other sessions/ });
    await expect.poll(() => others.getByRole('listitem').count()).toBe(2);
    const badges = (where: typeof others) =>
      where
        .getByRole('listitem')
        .evaluateAll((lis) =>
          lis.map((li) => [
            li.getAttribute('aria-label'),
            li.querySelector('.badge--bound')?.getAttribute('title'),
          ]),
        );
    // Sorted by last activity: the phone signed in after the PC.
    expect(await badges(others)).toEqual([
      ['Mobile Safari 18 on iOS 18.5', undefined],
      [
        'Chrome 145 on Windows 10',
        expect.stringMatching(
          /^Bound to its device’s security key since .+: a copy of this sign-in won’t work/,
        ),
      ],
    ]);
    // This Chromium didn't bind: nothing claims it did.
    expect(await badges(current)).toEqual([['Chrome 138 on Windows 10', undefined]]);
    await screenshots(laptop, 'sessions');

    // The PC's session cookie, without its bound cookie, in another browser: once the registration
    // grace is over, refused there with the reason.
    await laptop.waitForTimeout(Math.max(0, bound.boundAt + REGISTRATION_GRACE_MS + 500 - Date.now()));
    const boundCookies = new Set([...pc.sessions.values()].map((s) => s.cookieName));
    const thief = await device(browser, server.url, 'mac');
    const copied = [...pc.cookies]
      .filter(([name]) => !boundCookies.has(name))
      .map(([name, cookie]) => ({ name, value: cookie.value, url: server.url }));
    expect(copied).toHaveLength(1);
    await thief.context().addCookies(copied);
    await thief.goto('/sessions');
    const refused = heading(thief, 'We couldn’t confirm this device');
    await refused.waitFor();
    expect(await refused.getAttribute('data-reason')).toBe('device_unbound');
    expect(await thief.getByRole('status').textContent()).toBe(
      'This device couldn’t prove it’s the one you signed in on, so we signed you out here. Sign in again to continue.',
    );
    await screenshots(thief, 'signed-out-device-unbound');

    // Nothing ended on the server: the PC, with its bound cookie, is still signed in.
    const me = await pc.request('/trpc/auth.me');
    expect(me.status).toBe(200);
    await laptop.getByRole('button', { name: 'Refresh' }).click();
    await expect.poll(() => others.getByRole('listitem').count()).toBe(2);
    await thief.context().close();
    await phone.context().close();
  });

  test('a proof signed with another key is refused, and Recent activity shows it as something to look at', async () => {
    const status = await pc.refresh(pcSession, { key: await makeDbscKey() });
    expect(status).toBe(400);

    await laptop.getByRole('link', { name: 'Activity' }).click();
    await heading(laptop, 'Recent activity').waitFor();
    const items = laptop.getByRole('list').first().getByRole('listitem');
    const labels = () => items.evaluateAll((lis) => lis.map((li) => li.getAttribute('aria-label')));
    // Audit events are written off the request path: refresh until the refusal is there.
    await expect
      .poll(async () => {
        if ((await labels()).includes('Refused: Refused a device proof: it came from a different device'))
          return true;
        await laptop.getByRole('button', { name: 'Refresh' }).click();
        await laptop.waitForTimeout(300);
        return false;
      })
      .toBe(true);
    expect(await labels()).toEqual([
      'Refused: Refused a device proof: it came from a different device',
      'Signed in',
      'Signed in',
      'Session bound to its device',
      'Signed in',
    ]);
    const refusal = items.first();
    expect(await refusal.evaluate((li) => li.classList.contains('event--alert'))).toBe(true);
    expect(await refusal.getByText('Refused', { exact: true }).getAttribute('class')).toContain('badge');
    await screenshots(laptop, 'security-activity-device-bound');
    await laptop.context().close();
  });
});
