import { screen } from '@testing-library/react';
import { expect, test } from 'vitest';
import { fail, notSignedIn, signedInHandlers } from './fake-api';
import { renderApp } from './render';

test.each([
  ['idle_timeout', 'You were signed out after a period of inactivity', /no activity for a while/],
  ['absolute_timeout', 'Your session reached its time limit', /at most 24 hours/],
  ['revoked', 'You were signed out from another device', /ended from another device/],
  ['evicted', 'You were signed out to make room for a new sign-in', /as many devices as allowed/],
  ['password_changed', 'Your password was changed', /sign out every other session/],
  ['account_disabled', 'Your account was disabled', /An administrator disabled this account/],
  [
    'device_unbound',
    'We couldn’t confirm this device',
    /^This device couldn’t prove it’s the one you signed in on, so we signed you out here\. Sign in again/,
  ],
  ['logged_out', 'You signed out', /signed out of Tessera on this device/],
  ['something-else', 'Your session has ended', /sign in again/],
])('reason %s: "%s"', async (reason, title, body) => {
  renderApp(`/signed-out?reason=${reason}`, { 'auth.me': notSignedIn });
  const heading = await screen.findByRole('heading', { level: 1 });
  expect(heading.textContent).toBe(title);
  expect(document.activeElement).toBe(heading);
  expect(screen.getByRole('status').textContent).toMatch(body);
  expect(screen.getByRole('link', { name: 'Sign in again' }).getAttribute('href')).toBe('/sign-in');
});

test('a dead cookie found on load goes to the signed-out screen with the server’s reason', async () => {
  renderApp('/sessions', {
    'auth.me': () => fail('UNAUTHORIZED', 'Not signed in', { reason: 'idle_timeout' }),
  });
  expect((await screen.findByRole('heading', { level: 1 })).textContent).toBe(
    'You were signed out after a period of inactivity',
  );
});

test('no cookie at all just shows the sign-in page', async () => {
  renderApp('/account', { 'auth.me': notSignedIn });
  expect((await screen.findByRole('heading', { level: 1 })).textContent).toBe('Sign in');
});

test('an account disabled by an administrator: the open tab leaves at its next answer, saying why', async () => {
  renderApp('/sessions', {
    ...signedInHandlers(),
    'sessions.list': () => fail('UNAUTHORIZED', 'Not signed in', { reason: 'account_disabled' }),
  });
  expect(
    (await screen.findByRole('heading', { level: 1, name: 'Your account was disabled' })).dataset.reason,
  ).toBe('account_disabled');
});

test('a session bound to another device: the tab leaves at its next answer, in plain words, and tells the other tabs', async () => {
  const { tabs } = renderApp('/sessions', {
    ...signedInHandlers(),
    'sessions.list': () => fail('UNAUTHORIZED', 'Not signed in', { reason: 'device_unbound' }),
  });
  const heading = await screen.findByRole('heading', { level: 1, name: 'We couldn’t confirm this device' });
  expect(heading.dataset.reason).toBe('device_unbound');
  expect(tabs.posted).toContainEqual({ type: 'ended', reason: 'device_unbound' });
});
