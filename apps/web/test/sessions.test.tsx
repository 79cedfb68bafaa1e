import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, test } from 'vitest';
import { formatDateTime } from '../src/lib/time';
import { fail, signedInHandlers } from './fake-api';
import { renderApp } from './render';

const now = Date.now();
const sessions = [
  {
    id: 's-current',
    current: true,
    browser: 'Chrome 138',
    os: 'Windows 10',
    device: 'desktop',
    userAgent: 'ua',
    ip: '192.0.2.10',
    createdAt: now - 3_600_000,
    lastActivityAt: now,
    idleExpiresAt: now + 1_800_000,
    absoluteExpiresAt: now + 82_800_000,
    deviceBoundAt: now - 3_590_000,
  },
  {
    id: 's-phone',
    current: false,
    browser: 'Mobile Safari 18',
    os: 'iOS 18.5',
    device: 'mobile',
    userAgent: 'ua2',
    ip: '198.51.100.23',
    createdAt: now - 2 * 86_400_000,
    lastActivityAt: now - 3 * 60_000,
    idleExpiresAt: now + 1_600_000,
    absoluteExpiresAt: now + 3_600_000,
    deviceBoundAt: null,
  },
  {
    id: 's-old',
    current: false,
    browser: null,
    os: null,
    device: null,
    userAgent: null,
    ip: null,
    createdAt: now - 20 * 3_600_000,
    lastActivityAt: now - 25 * 60_000,
    idleExpiresAt: now + 300_000,
    absoluteExpiresAt: now + 4 * 3_600_000,
    deviceBoundAt: null,
  },
];

describe('where you are signed in', () => {
  test('the current session is marked "This device" and has no sign-out button; the others do', async () => {
    renderApp('/sessions', { ...signedInHandlers(), 'sessions.list': () => sessions });
    const current = await screen.findByRole('region', { name: 'Current session' });
    await within(current).findByText('This device');
    expect(within(current).getByText('Chrome 138 on Windows 10')).toBeTruthy();
    expect(within(current).getByText('192.0.2.10')).toBeTruthy();
    expect(within(current).queryAllByRole('button')).toEqual([]);

    const others = screen.getByRole('region', { name: /Other sessions/ });
    const items = within(others).getAllByRole('listitem');
    expect(items.map((li) => li.getAttribute('aria-label'))).toEqual([
      'Mobile Safari 18 on iOS 18.5',
      'Unknown device',
    ]);
    const last = within(items[0]!).getByText('3 minutes ago');
    expect(last.tagName).toBe('TIME');
    // The exact time on hover.
    expect(last.getAttribute('title')).toMatch(/\d{4}/);
    expect(within(items[1]!).getByText('Unknown')).toBeTruthy();
    expect(within(others).getAllByRole('button', { name: /^Sign out / })).toHaveLength(2);
    expect(screen.getByRole('button', { name: 'Sign out everywhere else' })).toBeTruthy();
  });

  test('a device-bound session says so with an icon, a word and when; plain ones say nothing', async () => {
    const bound = {
      ...sessions[1]!,
      id: 's-mac',
      browser: 'Chrome 139',
      os: 'macOS',
      deviceBoundAt: now - 600_000,
    };
    renderApp('/sessions', { ...signedInHandlers(), 'sessions.list': () => [...sessions, bound] });
    const current = await screen.findByRole('region', { name: 'Current session' });
    const badge = await within(current).findByText(/^Device-bound/);
    expect(badge.className).toContain('badge');
    expect(badge.querySelector('svg')?.getAttribute('aria-hidden')).toBe('true');
    // The explanation is the tooltip, and text for a screen reader (a title alone reaches neither
    // touch nor most screen readers).
    const explanation = `Bound to its device’s security key since ${formatDateTime(now - 3_590_000)}: a copy of this sign-in won’t work on another device.`;
    expect(badge.getAttribute('title')).toBe(explanation);
    expect(badge.textContent).toBe(`Device-bound. ${explanation}`);
    expect(within(current).getByText('This device')).toBeTruthy();

    const others = within(screen.getByRole('region', { name: /Other sessions/ })).getAllByRole('listitem');
    expect(
      others.map((li) => [li.getAttribute('aria-label'), within(li).queryByText(/^Device-bound/)?.title]),
    ).toEqual([
      ['Mobile Safari 18 on iOS 18.5', undefined],
      ['Chrome 139 on macOS', expect.stringContaining(formatDateTime(now - 600_000))],
      ['Unknown device', undefined],
    ]);
  });

  test('revoking asks for the password when the session is not fresh, then retries', async () => {
    let fresh = false;
    const { api } = renderApp('/sessions', {
      ...signedInHandlers(),
      'sessions.list': () => sessions,
      'sessions.revoke': () =>
        fresh
          ? { revoked: true }
          : fail('FORBIDDEN', 'Please enter your password again to continue.', {
              reason: 'reauthentication_required',
            }),
      'auth.reauthenticate': (input) => {
        if ((input as { password: string }).password !== 'right password') {
          return fail('FORBIDDEN', 'Wrong password', { reason: 'invalid_credentials' });
        }
        fresh = true;
        return { freshUntil: Date.now() + 300_000 };
      },
    });
    const user = userEvent.setup();
    await user.click(await screen.findByRole('button', { name: 'Sign out Mobile Safari 18 on iOS 18.5' }));

    const dialog = await screen.findByRole('dialog', { name: 'Confirm it’s you' });
    expect(
      within(dialog).getByText(/To sign out Mobile Safari 18 on iOS 18.5, enter your password again/),
    ).toBeTruthy();
    expect(document.activeElement).toBe(within(dialog).getByLabelText('Password'));
    await user.type(within(dialog).getByLabelText('Password'), 'nope');
    await user.click(within(dialog).getByRole('button', { name: 'Confirm' }));
    expect((await within(dialog).findByRole('alert')).textContent).toBe('That password is incorrect.');

    await user.type(within(dialog).getByLabelText('Password'), 'right password');
    await user.click(within(dialog).getByRole('button', { name: 'Confirm' }));
    await waitFor(() => expect(screen.queryByRole('dialog')).toBeNull());
    await waitFor(() =>
      expect(screen.getByRole('status', { name: '' }).textContent).toBe(
        'Signed out Mobile Safari 18 on iOS 18.5.',
      ),
    );
    expect(api.callsTo('sessions.revoke')).toEqual([{ sessionId: 's-phone' }, { sessionId: 's-phone' }]);
  });

  test('cancelling the password prompt does nothing', async () => {
    const { api } = renderApp('/sessions', {
      ...signedInHandlers(),
      'sessions.list': () => sessions,
      'sessions.revokeOthers': () =>
        fail('FORBIDDEN', 'Please enter your password again to continue.', {
          reason: 'reauthentication_required',
        }),
    });
    fireEvent.click(await screen.findByRole('button', { name: 'Sign out everywhere else' }));
    const dialog = await screen.findByRole('dialog', { name: 'Confirm it’s you' });
    fireEvent.click(within(dialog).getByRole('button', { name: 'Cancel' }));
    await waitFor(() => expect(screen.queryByRole('dialog')).toBeNull());
    expect(api.callsTo('sessions.revokeOthers')).toHaveLength(1);
    expect(api.callsTo('auth.reauthenticate')).toHaveLength(0);
  });

  test('an answer saying the session is gone ends this tab with the reason, and tells the other tabs', async () => {
    const { tabs, services } = renderApp('/sessions', {
      ...signedInHandlers(),
      'sessions.list': () => sessions,
      'sessions.revokeOthers': () => fail('UNAUTHORIZED', 'Not signed in', { reason: 'revoked' }),
    });
    fireEvent.click(await screen.findByRole('button', { name: 'Sign out everywhere else' }));
    expect(
      await screen.findByRole('heading', { name: 'You were signed out from another device' }),
    ).toBeTruthy();
    expect(tabs.posted).toContainEqual({ type: 'ended', reason: 'revoked' });
    // Sign-out clears the query cache.
    await waitFor(() => expect(services.clients.queryClient.getQueryCache().getAll()).toEqual([]));
  });

  test('a sign-out in another tab ends this one too', async () => {
    const { tabs } = renderApp('/sessions', { ...signedInHandlers(), 'sessions.list': () => sessions });
    await screen.findByRole('region', { name: 'Current session' });
    tabs.deliver({ type: 'ended', reason: 'logged_out' });
    expect(await screen.findByRole('heading', { name: 'You signed out' })).toBeTruthy();
    expect(screen.getByText('You signed out in another tab of this browser.')).toBeTruthy();
    expect(tabs.posted.filter((m) => m.type === 'ended')).toEqual([]);
  });
});

test('the server saying "logged out" to a tab that did not sign out means another tab did', async () => {
  const { tabs } = renderApp('/sessions', {
    ...signedInHandlers(),
    'sessions.list': () => sessions,
    'sessions.revokeOthers': () => fail('UNAUTHORIZED', 'Not signed in', { reason: 'logged_out' }),
  });
  await userEvent.setup().click(await screen.findByRole('button', { name: 'Sign out everywhere else' }));
  expect(await screen.findByText('You signed out in another tab of this browser.')).toBeTruthy();
  expect(tabs.posted).toContainEqual({ type: 'ended', reason: 'logged_out' });
});

test('signing out here says so', async () => {
  const { api } = renderApp('/sessions', { ...signedInHandlers(), 'sessions.list': () => [] });
  fireEvent.click(await screen.findByRole('button', { name: 'Sign out' }));
  expect(await screen.findByText('You have signed out of Tessera on this device.')).toBeTruthy();
  expect(api.callsTo('auth.logout')).toHaveLength(1);
});
