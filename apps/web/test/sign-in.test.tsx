import { fireEvent, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, test } from 'vitest';
import { fail, notSignedIn, signedInHandlers } from './fake-api';
import { renderApp } from './render';

async function submit(email: string, password: string) {
  const user = userEvent.setup();
  await user.type(await screen.findByLabelText('Email'), email);
  await user.type(screen.getByLabelText('Password'), password);
  await user.click(screen.getByRole('button', { name: 'Sign in' }));
}

describe('sign in', () => {
  test('an unknown account and a wrong password get the same generic error, in an alert', async () => {
    const { api } = renderApp('/sign-in', {
      'auth.me': notSignedIn,
      'auth.login': () =>
        fail('UNAUTHORIZED', 'Invalid email or password', { reason: 'invalid_credentials' }),
    });
    await submit('ada@example.com', 'wrong');
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toBe('The email or password is incorrect. Check them and try again.');
    expect((screen.getByLabelText('Password') as HTMLInputElement).value).toBe('');
    expect(document.activeElement).toBe(screen.getByLabelText('Password'));
    expect(api.callsTo('auth.login')).toEqual([{ email: 'ada@example.com', password: 'wrong' }]);
  });

  test('a rate limit says how long to wait and until when, and blocks the button meanwhile', async () => {
    renderApp('/sign-in', {
      'auth.me': notSignedIn,
      'auth.login': () =>
        fail('TOO_MANY_REQUESTS', 'Too many attempts. Try again in 840 s.', { retryAfter: 840 }),
    });
    await submit('ada@example.com', 'wrong');
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toMatch(
      /^Too many sign-in attempts\. For your security, wait 14 minutes and try again \(after .+\)\.$/,
    );
    expect((screen.getByRole('button', { name: 'Sign in' }) as HTMLButtonElement).disabled).toBe(true);
  });

  test('a disabled account (said only after the right password) gets its own message', async () => {
    renderApp('/sign-in', {
      'auth.me': notSignedIn,
      'auth.login': () => fail('FORBIDDEN', 'This account is disabled.', { reason: 'account_disabled' }),
    });
    await submit('ada@example.com', 'the right password');
    expect((await screen.findByRole('alert')).textContent).toBe(
      'This account is disabled. Contact your administrator.',
    );
  });

  test('empty fields are flagged before anything is sent', async () => {
    const { api } = renderApp('/sign-in', { 'auth.me': notSignedIn });
    fireEvent.click(await screen.findByRole('button', { name: 'Sign in' }));
    expect(screen.getByText('Enter your email address.')).toBeTruthy();
    expect(screen.getByLabelText('Email').getAttribute('aria-invalid')).toBe('true');
    expect(screen.getByText('Enter your password.')).toBeTruthy();
    expect(api.callsTo('auth.login')).toEqual([]);
  });

  test('a signed-in browser skips the sign-in page', async () => {
    renderApp('/sign-in', signedInHandlers());
    expect(await screen.findByRole('heading', { name: 'Where you’re signed in' })).toBeTruthy();
  });

  test('success announces the sign-in to the other tabs and opens the sessions screen', async () => {
    let signedIn = false;
    const handlers = signedInHandlers();
    const { tabs } = renderApp('/sign-in', {
      ...handlers,
      'auth.me': (input, n) => (signedIn ? handlers['auth.me']!(input, n) : notSignedIn()),
      'auth.login': () => {
        signedIn = true;
        return {
          status: 'signed_in',
          user: { id: 'u1', email: 'ada@example.com', role: 'user', mfaEnabled: false },
        };
      },
    });
    await submit('ada@example.com', 'right');
    expect(await screen.findByRole('heading', { name: 'Where you’re signed in' })).toBeTruthy();
    expect(tabs.posted).toContainEqual({ type: 'signed-in' });
  });
});

const limitSessions = [
  {
    id: 'old',
    createdAt: Date.now() - 3 * 3_600_000,
    lastActivityAt: Date.now() - 2 * 3_600_000,
    userAgent: 'x',
    ip: '203.0.113.7',
    browser: 'Firefox 140',
    os: 'Linux',
    device: 'desktop',
  },
  {
    id: 'phone',
    createdAt: Date.now() - 3_600_000,
    lastActivityAt: Date.now() - 5 * 60_000,
    userAgent: 'y',
    ip: '198.51.100.23',
    browser: 'Mobile Safari 18',
    os: 'iOS 18.5',
    device: 'mobile',
  },
];

describe('session limit reached (reject policy)', () => {
  const conflict = () =>
    fail('CONFLICT', 'You already have 2 active sessions: end one to sign in here.', {
      sessionLimit: { limit: 2, sessions: limitSessions, ticket: 'ticket-1' },
    });

  test('lists each session with device, browser, IP and last active; cancel goes back', async () => {
    renderApp('/sign-in', { 'auth.me': notSignedIn, 'auth.login': conflict });
    await submit('ada@example.com', 'right');
    expect(await screen.findByRole('heading', { name: 'You’re signed in on too many devices' })).toBeTruthy();
    expect(screen.getByText(/up to 2 devices at once/)).toBeTruthy();
    const items = within(screen.getByRole('list', { name: 'Active sessions' })).getAllByRole('listitem');
    // Most recently active first.
    expect(items.map((li) => li.getAttribute('aria-label'))).toEqual([
      'Mobile Safari 18 on iOS 18.5',
      'Firefox 140 on Linux',
    ]);
    expect(within(items[0]!).getByText('Phone')).toBeTruthy();
    expect(within(items[0]!).getByText('198.51.100.23')).toBeTruthy();
    expect(within(items[0]!).getByText('5 minutes ago')).toBeTruthy();
    expect(within(items[1]!).getByText('Computer')).toBeTruthy();
    expect(within(items[1]!).getByText('2 hours ago')).toBeTruthy();

    fireEvent.click(screen.getByRole('button', { name: 'Cancel' }));
    expect(await screen.findByRole('heading', { name: 'Sign in' })).toBeTruthy();
  });

  test('ending one session signs in with the ticket', async () => {
    let signedIn = false;
    const handlers = signedInHandlers();
    const { api } = renderApp('/sign-in', {
      ...handlers,
      'auth.me': (input, n) => (signedIn ? handlers['auth.me']!(input, n) : notSignedIn()),
      'auth.login': conflict,
      'auth.resolveSessionLimit': () => {
        signedIn = true;
        return {
          status: 'signed_in',
          user: { id: 'u1', email: 'ada@example.com', role: 'user', mfaEnabled: false },
        };
      },
    });
    await submit('ada@example.com', 'right');
    fireEvent.click(
      await screen.findByRole('button', { name: 'Sign out Firefox 140 on Linux and continue' }),
    );
    expect(await screen.findByRole('heading', { name: 'Where you’re signed in' })).toBeTruthy();
    expect(api.callsTo('auth.resolveSessionLimit')).toEqual([{ ticket: 'ticket-1', revokeSessionId: 'old' }]);
  });

  test('an expired ticket sends the person back to sign in', async () => {
    renderApp('/sign-in', {
      'auth.me': notSignedIn,
      'auth.login': conflict,
      'auth.resolveSessionLimit': () =>
        fail('UNAUTHORIZED', 'This choice expired. Please sign in again.', { reason: 'ticket_invalid' }),
    });
    await submit('ada@example.com', 'right');
    fireEvent.click(
      await screen.findByRole('button', { name: 'Sign out Firefox 140 on Linux and continue' }),
    );
    await waitFor(() =>
      expect(screen.getByRole('alert').textContent).toBe('This choice expired. Please sign in again.'),
    );
  });
});
