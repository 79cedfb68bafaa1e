import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, test } from 'vitest';
import { CHIP_PATH } from '../src/components/DeviceBoundBadge';
import { activityEvent, fail, signedInHandlers } from './fake-api';
import { renderApp } from './render';

const now = Date.now();
const page1 = [
  activityEvent({
    id: 'e9',
    type: 'sign_in',
    at: now - 30_000,
    current: true,
    actor: { kind: 'self', current: true },
    browser: 'Chrome 138',
    os: 'Windows 10',
    ip: '192.0.2.10',
  }),
  activityEvent({ id: 'e8', type: 'sign_in', at: now - 5 * 60_000 }),
  activityEvent({ id: 'e7', type: 'sign_in_failed', reason: 'password', at: now - 6 * 60_000 }),
  activityEvent({
    id: 'e6',
    type: 'rate_limited',
    reason: 'credential_account',
    at: now - 7 * 60_000,
    actor: { kind: 'system' },
  }),
  activityEvent({
    id: 'e5',
    type: 'session_ended',
    reason: 'idle_timeout',
    at: now - 2 * 3_600_000,
    actor: { kind: 'system' },
  }),
  activityEvent({
    id: 'e4',
    type: 'session_ended',
    reason: 'revoked',
    at: now - 3 * 3_600_000,
    actor: { kind: 'admin' },
  }),
  activityEvent({
    id: 'e3',
    type: 'session_ended',
    reason: 'revoked',
    at: now - 4 * 3_600_000,
    actor: { kind: 'session', current: true },
  }),
];
const page2 = [
  activityEvent({
    id: 'e2',
    type: 'mfa_enabled',
    at: now - 3 * 86_400_000,
    actor: { kind: 'self', current: false },
  }),
  activityEvent({ id: 'e1', type: 'password_changed', at: now - 4 * 86_400_000, ip: null }),
];

const activity = (input: unknown) => {
  const cursor = (input as { cursor?: string | null } | undefined)?.cursor ?? null;
  return cursor === 'after-e3'
    ? { events: page2, nextCursor: null }
    : { events: page1, nextCursor: 'after-e3' };
};

const facts = (item: HTMLElement) =>
  Object.fromEntries(
    within(item)
      .getAllByRole('term')
      .map((dt) => [dt.textContent, dt.nextElementSibling?.textContent]),
  );

describe('recent activity', () => {
  test('says what happened, on which device, from where, when and by whom; failures stand out', async () => {
    const { api } = renderApp('/activity', { ...signedInHandlers(), 'account.activity': activity });
    expect(await screen.findByRole('heading', { level: 1, name: 'Recent activity' })).toBeTruthy();
    const list = await screen.findByRole('list');
    const items = within(list).getAllByRole('listitem');
    expect(items.map((li) => li.getAttribute('aria-label'))).toEqual([
      'Signed in',
      'Signed in',
      'Failed: Failed sign-in: wrong password',
      'Blocked: Sign-in blocked: too many attempts',
      'Session ended: timed out after inactivity',
      'Session ended: signed out remotely',
      'Session ended: signed out remotely',
    ]);
    expect(facts(items[0]!)).toEqual({
      By: 'you, on this device',
      Device: 'Chrome 138 on Windows 10',
      'IP address': '192.0.2.10',
      When: 'just now',
    });
    expect(facts(items[1]!)).toMatchObject({ By: 'you, on Firefox 140 on Linux', When: '5 minutes ago' });
    // Not "you": whoever typed a wrong password.
    expect(facts(items[2]!).By).toBe('someone signing in');
    expect(facts(items[4]!).By).toBe('Tessera (automatic)');
    expect(facts(items[5]!).By).toBe('an administrator');
    expect(facts(items[6]!).By).toBe('you, on this device');

    // Failed sign-ins and rate limits: a word (not only a colour) and the warning style.
    expect(within(items[2]!).getByText('Failed').className).toContain('badge');
    expect(within(items[3]!).getByText('Blocked').className).toContain('badge');
    expect(items.map((li) => li.classList.contains('event--alert'))).toEqual([
      false,
      false,
      true,
      true,
      false,
      false,
      false,
    ]);
    // The exact time on hover.
    expect(within(items[1]!).getByText('5 minutes ago').getAttribute('title')).toMatch(/\d{4}/);

    // "This wasn't me" only on the sign-in of another session.
    expect(within(items[0]!).queryByRole('button')).toBeNull();
    expect(
      within(items[1]!).getByRole('button', { name: /^This wasn’t me: the sign-in on Firefox 140 on Linux/ }),
    );
    expect(within(list).getAllByRole('button', { name: /This wasn’t me/ })).toHaveLength(1);
    expect(api.callsTo('account.activity')).toEqual([{ limit: 20, direction: 'forward' }]);
  });

  test('"Load more" asks for the next page with the cursor, appends it and moves focus to it', async () => {
    const { api } = renderApp('/activity', { ...signedInHandlers(), 'account.activity': activity });
    const user = userEvent.setup();
    await screen.findByText('Showing the latest 7 events.');
    await user.click(screen.getByRole('button', { name: 'Load more' }));
    await screen.findByText('Showing all 9 events.');
    const items = within(screen.getByRole('list')).getAllByRole('listitem');
    expect(items).toHaveLength(9);
    expect(items[7]!.getAttribute('aria-label')).toBe('Two-step verification turned on');
    expect(facts(items[7]!).By).toBe('you, on Firefox 140 on Linux');
    expect(facts(items[8]!)['IP address']).toBe('Unknown');
    expect(api.callsTo('account.activity').at(-1)).toMatchObject({ limit: 20, cursor: 'after-e3' });
    expect(screen.queryByRole('button', { name: 'Load more' })).toBeNull();
    await waitFor(() => expect(document.activeElement).toBe(items[7]));
  });

  test('device binding: the binding in words, a refused proof flagged like a failed sign-in', async () => {
    renderApp('/activity', {
      ...signedInHandlers(),
      'account.activity': () => ({
        events: [
          activityEvent({ id: 'd5', type: 'device_proof_refused', detail: { reason: 'foreign_key' } }),
          activityEvent({ id: 'd4', type: 'device_proof_refused', detail: { reason: 'bad_proof' } }),
          activityEvent({ id: 'd3', type: 'device_proof_refused', detail: { reason: 'already_bound' } }),
          activityEvent({ id: 'd2', type: 'device_proof_refused', detail: { reason: 'bad_challenge' } }),
          activityEvent({ id: 'd1', type: 'device_proof_refused', detail: { reason: 'something_new' } }),
          activityEvent({
            id: 'd0',
            type: 'device_bound',
            detail: { alg: 'ES256' },
            current: true,
            actor: { kind: 'self', current: true },
          }),
        ],
        nextCursor: null,
      }),
    });
    const items = within(await screen.findByRole('list')).getAllByRole('listitem');
    expect(items.map((li) => li.getAttribute('aria-label'))).toEqual([
      'Refused: Refused a device proof: it came from a different device',
      'Refused: Refused a device proof: it didn’t check out',
      'Refused: Refused a device proof: the session was already bound to a device',
      'Refused: Refused a device proof: it was out of date or already used',
      'Refused: Refused a device proof',
      'Session bound to its device',
    ]);
    expect(items.map((li) => li.classList.contains('event--alert'))).toEqual([
      true,
      true,
      true,
      true,
      true,
      false,
    ]);
    expect(within(items[0]!).getByText('Refused').className).toContain('badge');
    // The warning icon, as failed sign-ins have, not the chip of a binding.
    const path = (li: HTMLElement) => li.querySelector('.event__icon path')?.getAttribute('d');
    expect(path(items[0]!)).toBe('M12 3.5 21 19.5H3z');
    expect(path(items[5]!)).toBe(CHIP_PATH);
    // Not "you": a refused proof may come from a copy of the cookie on someone else's machine.
    expect(facts(items[0]!).By).toBe('a browser using your session');
    expect(facts(items[5]!).By).toBe('you, on this device');
    // No "This wasn't me" on these: that is for sign-ins.
    expect(screen.queryByRole('button', { name: /This wasn’t me/ })).toBeNull();
  });

  test('an empty history says so', async () => {
    renderApp('/activity', {
      ...signedInHandlers(),
      'account.activity': () => ({ events: [], nextCursor: null }),
    });
    expect(await screen.findByText('Nothing has happened on your account yet.')).toBeTruthy();
    expect(screen.queryByRole('button', { name: 'Load more' })).toBeNull();
  });
});

describe('this wasn’t me', () => {
  test('cancel does nothing; confirm (with the password) signs out everywhere else and opens the password change', async () => {
    let fresh = false;
    const { api } = renderApp('/activity', {
      ...signedInHandlers(),
      'account.activity': activity,
      'sessions.revokeOthers': () =>
        fresh
          ? { revoked: 2 }
          : fail('FORBIDDEN', 'Please enter your password again to continue.', {
              reason: 'reauthentication_required',
            }),
      'auth.reauthenticate': () => {
        fresh = true;
        return { freshUntil: Date.now() + 300_000 };
      },
    });
    const user = userEvent.setup();
    const button = await screen.findByRole('button', { name: /^This wasn’t me/ });
    await user.click(button);
    let dialog = await screen.findByRole('dialog', { name: 'Secure your account' });
    expect(
      within(dialog).getByText(/Someone signed in on Firefox 140 on Linux from 203\.0\.113\.7/),
    ).toBeTruthy();
    // The harmless answer has the focus.
    expect(document.activeElement).toBe(within(dialog).getByRole('button', { name: 'Cancel' }));
    await user.click(within(dialog).getByRole('button', { name: 'Cancel' }));
    expect(api.callsTo('sessions.revokeOthers')).toEqual([]);

    await user.click(button);
    dialog = await screen.findByRole('dialog', { name: 'Secure your account' });
    await user.click(within(dialog).getByRole('button', { name: 'Sign out everywhere else' }));
    const reauth = await screen.findByRole('dialog', { name: 'Confirm it’s you' });
    expect(within(reauth).getByText(/To sign out everywhere else, enter your password/)).toBeTruthy();
    await user.type(within(reauth).getByLabelText('Password'), 'my password');
    await user.click(within(reauth).getByRole('button', { name: 'Confirm' }));

    expect(await screen.findByRole('heading', { level: 1, name: 'Security' })).toBeTruthy();
    expect(
      screen.getByText(
        'We signed out 2 other sessions. Now change your password: whoever signed in may know it.',
      ),
    ).toBeTruthy();
    await waitFor(() => expect(document.activeElement).toBe(screen.getByLabelText('Current password')));
    expect(api.callsTo('sessions.revokeOthers')).toHaveLength(2);
  });

  test('a failure says so and stays on the list', async () => {
    renderApp('/activity', {
      ...signedInHandlers(),
      'account.activity': activity,
      'sessions.revokeOthers': () => fail('SERVICE_UNAVAILABLE', 'down'),
    });
    const user = userEvent.setup();
    await user.click(await screen.findByRole('button', { name: /^This wasn’t me/ }));
    await user.click(
      within(await screen.findByRole('dialog')).getByRole('button', { name: 'Sign out everywhere else' }),
    );
    expect((await screen.findByRole('alert')).textContent).toMatch(
      /^We couldn’t sign out your other sessions\. The service is temporarily unavailable/,
    );
    expect(screen.getByRole('heading', { level: 1, name: 'Recent activity' })).toBeTruthy();
  });
});
