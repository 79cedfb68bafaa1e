import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, test } from 'vitest';
import { formatDateTime } from '../src/lib/time';
import { activityEvent, adminUserPage, fail, type Handler, signedInHandlers } from './fake-api';
import { renderApp } from './render';

const now = Date.now();
const account = (id: string, email: string, extra: object = {}) => ({
  id,
  email,
  role: 'user',
  mfaEnabled: false,
  disabled: false,
  createdAt: now - 86_400_000,
  ...extra,
});
const everyone = [
  account('u1', 'ada@example.com', { role: 'admin', mfaEnabled: true }),
  account('u2', 'bob@example.com', { mfaEnabled: true }),
  account('u3', 'bonnie@example.com', { disabled: true }),
  account('u4', 'carl@example.com'),
];

/** admin.listUsers over `everyone`: prefix search (case-insensitive), two per page. */
const listUsers: Handler = (input) => {
  const { query, cursor } = (input ?? {}) as { query?: string; cursor?: string | null };
  const matching = everyone.filter((u) => !query || u.email.startsWith(query.toLowerCase()));
  const start = cursor ? Number(cursor) : 0;
  return {
    users: matching.slice(start, start + 2),
    nextCursor: start + 2 < matching.length ? String(start + 2) : null,
  };
};

const admin = () => signedInHandlers({ role: 'admin' });
const needsPassword = () =>
  fail('FORBIDDEN', 'Please enter your password again to continue.', { reason: 'reauthentication_required' });

const rows = () =>
  within(screen.getByRole('table'))
    .getAllByRole('row')
    .slice(1)
    .map((row) => [
      within(row).getByRole('rowheader').textContent,
      ...within(row)
        .getAllByRole('cell')
        .slice(0, 1)
        .map((c) => c.textContent),
    ]);

describe('users', () => {
  test('email links with badges; a debounced prefix search; cursor pages', async () => {
    const { api } = renderApp('/admin', { ...admin(), 'admin.listUsers': listUsers });
    const user = userEvent.setup();
    await screen.findByRole('table');
    expect(rows()).toEqual([
      ['ada@example.comYou', 'Admin2-step'],
      ['bob@example.com', '2-step'],
    ]);
    expect(screen.getByRole('link', { name: 'bob@example.com' }).getAttribute('href')).toBe(
      '/admin/users/u2',
    );
    expect(screen.getByRole('status').textContent).toBe('Users 1–2.');

    await user.click(screen.getByRole('button', { name: 'Next' }));
    await waitFor(() => expect(rows()[0]![0]).toBe('bonnie@example.com'));
    expect(rows()).toEqual([
      ['bonnie@example.com', 'Disabled'],
      ['carl@example.com', 'User'],
    ]);
    expect(screen.getByText('Page 2')).toBeTruthy();
    expect(api.callsTo('admin.listUsers').at(-1)).toEqual({ cursor: '2', limit: 25 });
    await user.click(screen.getByRole('button', { name: 'Previous' }));
    await waitFor(() => expect(rows()[0]![0]).toBe('ada@example.comYou'));

    // Typing quickly asks once, when the typing pauses, and starts again at the first page.
    const before = api.callsTo('admin.listUsers').length;
    await user.type(screen.getByRole('searchbox', { name: 'Search by email' }), 'BO');
    await waitFor(() => expect(rows().map((r) => r[0])).toEqual(['bob@example.com', 'bonnie@example.com']));
    expect(api.callsTo('admin.listUsers').slice(before)).toEqual([{ query: 'BO', cursor: null, limit: 25 }]);
    expect(screen.getByRole('status').textContent).toBe('Users 1–2 whose email starts with “BO”.');
    expect(screen.queryByRole('navigation', { name: 'Pages of users' })).toBeNull();

    await user.clear(screen.getByRole('searchbox', { name: 'Search by email' }));
    await user.type(screen.getByRole('searchbox', { name: 'Search by email' }), 'zz');
    expect(await screen.findByText('No user’s email starts with “zz”.')).toBeTruthy();
    expect(screen.queryByRole('table')).toBeNull();
  });

  test('the admin console is not for users, and goes away when the server says admin_required', async () => {
    renderApp('/admin', { ...signedInHandlers({ role: 'user' }) });
    expect(await screen.findByRole('heading', { name: 'Where you’re signed in' })).toBeTruthy();
    expect(screen.queryByRole('link', { name: 'Admin' })).toBeNull();

    let role = 'admin';
    const handlers = admin();
    renderApp('/admin', {
      ...handlers,
      'auth.me': (input, n) => {
        const me = handlers['auth.me']!(input, n) as { user: { role: string } };
        return { ...me, user: { ...me.user, role } };
      },
      'admin.listUsers': () => {
        role = 'user';
        return fail('FORBIDDEN', 'Administrators only.', { reason: 'admin_required' });
      },
    });
    expect(await screen.findByText(/Your administrator access was removed/)).toBeTruthy();
    await waitFor(() =>
      expect(screen.getAllByRole('heading', { level: 1 }).at(-1)?.textContent).toBe('Where you’re signed in'),
    );
  });
});

describe('a user’s page', () => {
  /** A fake admin.getUser that follows what the mutations did. */
  function bob() {
    let page = adminUserPage({
      events: [
        activityEvent({ id: 'b2', type: 'sign_in_failed', reason: 'code' }),
        activityEvent({ id: 'b1', type: 'session_ended', reason: 'revoked', actor: { kind: 'admin' } }),
      ],
    });
    const handlers: Record<string, Handler> = {
      ...admin(),
      'admin.getUser': () => page,
      'admin.revokeSession': (input) => {
        const { sessionId } = input as { sessionId: string };
        page = { ...page, sessions: page.sessions.filter((s) => (s as { id: string }).id !== sessionId) };
        return { revoked: true };
      },
      'admin.revokeUserSessions': () => {
        const revoked = page.sessions.length;
        page = { ...page, sessions: [] };
        return { revoked };
      },
      'admin.setDisabled': (input) => {
        const { disabled } = input as { disabled: boolean };
        const sessionsEnded = disabled ? page.sessions.length : 0;
        page = {
          ...page,
          user: { ...page.user, disabled, disabledAt: disabled ? Date.now() : null },
          sessions: disabled ? [] : page.sessions,
        };
        return { user: page.user, sessionsEnded };
      },
      'admin.resetMfa': () => {
        page = { ...page, user: { ...page.user, mfaEnabled: false } };
        return { user: page.user };
      },
    };
    return handlers;
  }

  const setting = (name: string) => screen.getByRole('heading', { level: 3, name }).closest('li')!;

  test('shows the account, its sessions and recent events', async () => {
    renderApp('/admin/users/u2', bob());
    expect(await screen.findByRole('heading', { level: 1, name: 'bob@example.com' })).toBeTruthy();
    await waitFor(() =>
      expect(document.activeElement).toBe(screen.getByRole('heading', { level: 1, name: 'bob@example.com' })),
    );
    expect(within(setting('Role')).getByText('User')).toBeTruthy();
    expect(within(setting('Two-step verification')).getByText('On')).toBeTruthy();
    expect(within(setting('Status')).getByText('Active')).toBeTruthy();
    const sessions = screen.getByRole('region', { name: /Sessions/ });
    expect(
      within(sessions)
        .getAllByRole('listitem')
        .map((li) => li.getAttribute('aria-label')),
    ).toEqual(['Firefox 140 on Linux', 'Mobile Safari 18 on iOS 18.5']);
    const events = within(screen.getByRole('region', { name: 'Recent events' })).getAllByRole('listitem');
    expect(events.map((li) => li.getAttribute('aria-label'))).toEqual([
      'Failed: Failed sign-in: wrong two-step code',
      'Session ended: signed out remotely',
    ]);
    expect(within(events[0]!).getByText('someone signing in')).toBeTruthy();
    expect(within(events[1]!).getByText('an administrator')).toBeTruthy();
    expect(
      screen
        .getByRole('link', { name: 'All of this account’s events in the audit log' })
        .getAttribute('href'),
    ).toBe('/admin/audit?email=bob%40example.com');
  });

  test('revoke one session, then all of them (after a confirmation)', async () => {
    const handlers = bob();
    const { api } = renderApp('/admin/users/u2', handlers);
    const user = userEvent.setup();
    await user.click(await screen.findByRole('button', { name: 'Sign out Mobile Safari 18 on iOS 18.5' }));
    expect(await screen.findByText('Signed out Mobile Safari 18 on iOS 18.5.')).toBeTruthy();
    expect(api.callsTo('admin.revokeSession')).toEqual([{ userId: 'u2', sessionId: 'b-phone' }]);
    await waitFor(() =>
      expect(screen.queryByRole('button', { name: 'Sign out Mobile Safari 18 on iOS 18.5' })).toBeNull(),
    );

    await user.click(screen.getByRole('button', { name: 'Sign out all' }));
    const dialog = await screen.findByRole('dialog', { name: 'Sign out every session of bob@example.com?' });
    await user.click(within(dialog).getByRole('button', { name: 'Sign out all' }));
    expect(await screen.findByText('Signed out 1 session of bob@example.com.')).toBeTruthy();
    expect(api.callsTo('admin.revokeUserSessions')).toEqual([{ userId: 'u2' }]);
    expect(await screen.findByText('Not signed in anywhere.')).toBeTruthy();
  });

  test('disable asks to confirm, then for the password (stale admin session), then ends the sessions; enable undoes it', async () => {
    let fresh = false;
    const handlers = bob();
    const setDisabled = handlers['admin.setDisabled']!;
    const { api } = renderApp('/admin/users/u2', {
      ...handlers,
      'admin.setDisabled': (input, n) => (fresh ? setDisabled(input, n) : needsPassword()),
      'auth.reauthenticate': () => {
        fresh = true;
        return { freshUntil: Date.now() + 300_000 };
      },
    });
    const user = userEvent.setup();
    await user.click(await screen.findByRole('button', { name: 'Disable account' }));
    let dialog = await screen.findByRole('dialog', { name: 'Disable bob@example.com?' });
    expect(within(dialog).getByText(/Every session of this account ends at once/)).toBeTruthy();
    await user.click(within(dialog).getByRole('button', { name: 'Cancel' }));
    expect(api.callsTo('admin.setDisabled')).toEqual([]);

    await user.click(screen.getByRole('button', { name: 'Disable account' }));
    dialog = await screen.findByRole('dialog', { name: 'Disable bob@example.com?' });
    await user.click(within(dialog).getByRole('button', { name: 'Disable account' }));
    const reauth = await screen.findByRole('dialog', { name: 'Confirm it’s you' });
    expect(within(reauth).getByText(/To disable bob@example.com, enter your password/)).toBeTruthy();
    await user.type(within(reauth).getByLabelText('Password'), 'right password');
    await user.click(within(reauth).getByRole('button', { name: 'Confirm' }));
    expect(await screen.findByText('bob@example.com is disabled. 2 sessions ended.')).toBeTruthy();
    expect(api.callsTo('admin.setDisabled')).toEqual([
      { userId: 'u2', disabled: true },
      { userId: 'u2', disabled: true },
    ]);
    await waitFor(() => expect(within(setting('Status')).getByText('Disabled')).toBeTruthy());
    expect(screen.getByText('Not signed in anywhere.')).toBeTruthy();

    await user.click(screen.getByRole('button', { name: 'Enable account' }));
    dialog = await screen.findByRole('dialog', { name: 'Enable bob@example.com?' });
    await user.click(within(dialog).getByRole('button', { name: 'Enable account' }));
    expect(await screen.findByText('bob@example.com is enabled and can sign in again.')).toBeTruthy();
    expect(api.callsTo('admin.setDisabled').at(-1)).toEqual({ userId: 'u2', disabled: false });
    await waitFor(() => expect(within(setting('Status')).getByText('Active')).toBeTruthy());
  });

  test('reset two-step verification, after a confirmation', async () => {
    const { api } = renderApp('/admin/users/u2', bob());
    const user = userEvent.setup();
    await user.click(await screen.findByRole('button', { name: 'Reset two-step verification' }));
    const dialog = await screen.findByRole('dialog', { name: 'Reset two-step verification?' });
    await user.click(within(dialog).getByRole('button', { name: 'Reset two-step verification' }));
    expect(
      await screen.findByText(
        'Two-step verification is off for bob@example.com. They can turn it on again from their Security page.',
      ),
    ).toBeTruthy();
    expect(api.callsTo('admin.resetMfa')).toEqual([{ userId: 'u2' }]);
    await waitFor(() => expect(within(setting('Two-step verification')).getByText('Off')).toBeTruthy());
    expect(screen.queryByRole('button', { name: 'Reset two-step verification' })).toBeNull();
  });

  test('a role change; a refusal shows the server’s words', async () => {
    const { api } = renderApp('/admin/users/u2', {
      ...bob(),
      'admin.setRole': (_input, n) =>
        n === 1
          ? { user: {}, sessionsUpdated: 2 }
          : fail('CONFLICT', 'This is the last administrator: promote another one first.'),
    });
    const user = userEvent.setup();
    await user.click(await screen.findByRole('button', { name: 'Make bob@example.com an administrator' }));
    expect(
      await screen.findByText(
        'bob@example.com is now an administrator. Their 2 active sessions follow on the next request.',
      ),
    ).toBeTruthy();
    await user.click(screen.getByRole('button', { name: 'Make bob@example.com an administrator' }));
    expect((await screen.findByRole('alert', {}, {})).textContent).toBe(
      'This is the last administrator: promote another one first.',
    );
    expect(api.callsTo('admin.setRole')).toHaveLength(2);
  });

  test('your own page: no disable, no two-step reset, no sign-out of this session', async () => {
    renderApp('/admin/users/u1', {
      ...admin(),
      'admin.getUser': () =>
        adminUserPage({
          user: { id: 'u1', email: 'ada@example.com', role: 'admin' },
          sessions: [
            {
              id: 's-current',
              createdAt: now - 60_000,
              lastActivityAt: now,
              ip: '192.0.2.10',
              userAgent: 'x',
              browser: 'Chrome 138',
              os: 'Windows 10',
              device: 'desktop',
              deviceBoundAt: null,
            },
          ],
        }),
    });
    await screen.findByRole('heading', { level: 1, name: 'ada@example.com' });
    expect(screen.getByText('You can’t disable your own account.')).toBeTruthy();
    expect(screen.queryByRole('button', { name: 'Disable account' })).toBeNull();
    expect(screen.queryByRole('button', { name: 'Reset two-step verification' })).toBeNull();
    const sessions = screen.getByRole('region', { name: /Sessions/ });
    expect(within(sessions).getByText('This device')).toBeTruthy();
    expect(within(sessions).queryAllByRole('button')).toEqual([]);
  });

  test('a device-bound session carries the badge, with when it was bound; a plain one has none', async () => {
    const page = adminUserPage();
    const [laptop, phone] = page.sessions as { createdAt: number }[];
    const boundAt = laptop!.createdAt + 1_000;
    renderApp('/admin/users/u2', {
      ...admin(),
      'admin.getUser': () => ({ ...page, sessions: [{ ...laptop, deviceBoundAt: boundAt }, phone] }),
    });
    const sessions = await screen.findByRole('region', { name: /Sessions/ });
    const [first, second] = within(sessions).getAllByRole('listitem');
    const badge = within(first!).getByText(/^Device-bound/);
    expect(badge.getAttribute('title')).toContain(`since ${formatDateTime(boundAt)}`);
    expect(badge.textContent).toMatch(/^Device-bound\. Bound to its device’s security key since /);
    expect(within(second!).queryByText(/Device-bound/)).toBeNull();
  });

  test('an unknown user id', async () => {
    renderApp('/admin/users/nope', {
      ...admin(),
      'admin.getUser': () => fail('NOT_FOUND', 'No such user'),
    });
    expect(await screen.findByRole('heading', { level: 1, name: 'No such user' })).toBeTruthy();
    expect(screen.getByRole('link', { name: 'Back to all users' })).toBeTruthy();
  });
});

describe('audit log', () => {
  const auditEvent = (id: string, extra: object) => ({
    ...activityEvent({ id, type: 'sign_in' }),
    userId: 'u2',
    userEmail: 'bob@example.com',
    actorEmail: null,
    actor: { kind: 'self', userId: 'u2', sessionId: 's1' },
    ...extra,
  });
  const auditEvents: Handler = (input) => {
    const { cursor } = (input ?? {}) as { cursor?: string };
    return cursor
      ? {
          events: [
            auditEvent('a1', {
              type: 'role_changed',
              detail: { from: 'user', to: 'admin' },
              actor: { kind: 'admin', userId: 'u9', sessionId: 'x' },
              actorEmail: 'root@example.com',
            }),
          ],
          nextCursor: null,
        }
      : {
          events: [
            auditEvent('a3', { type: 'sign_in_failed', reason: 'password', userId: null, userEmail: null }),
            auditEvent('a2', {
              type: 'account_disabled',
              actor: { kind: 'admin', userId: 'u1', sessionId: 's-current' },
              actorEmail: 'ada@example.com',
            }),
          ],
          nextCursor: 'more',
        };
  };

  test('every event with its account and actor; filters by type, email and dates; load more', async () => {
    const { api } = renderApp('/admin/audit', { ...admin(), 'admin.auditEvents': auditEvents });
    const user = userEvent.setup();
    const events = await screen.findByRole('region', { name: 'Events' });
    await within(events).findAllByRole('listitem');
    let items = within(events).getAllByRole('listitem');
    expect(items.map((li) => li.getAttribute('aria-label'))).toEqual([
      'Failed: Failed sign-in: wrong password',
      'Account disabled',
    ]);
    expect(within(items[0]!).getByText('no account (unknown email)')).toBeTruthy();
    expect(within(items[1]!).getByRole('link', { name: 'bob@example.com' }).getAttribute('href')).toBe(
      '/admin/users/u2',
    );
    expect(within(items[1]!).getByText('you (administrator)')).toBeTruthy();
    expect(api.callsTo('admin.auditEvents')).toEqual([{ limit: 25, direction: 'forward' }]);

    await user.click(screen.getByRole('button', { name: 'Load more' }));
    await waitFor(() => expect(within(events).getAllByRole('listitem')).toHaveLength(3));
    items = within(events).getAllByRole('listitem');
    expect(items[2]!.getAttribute('aria-label')).toBe('Role changed to administrator');
    expect(within(items[2]!).getByText('root@example.com (administrator)')).toBeTruthy();
    expect(api.callsTo('admin.auditEvents').at(-1)).toMatchObject({ cursor: 'more' });

    const filters = screen.getByRole('region', { name: 'Filters' });
    const types = within(filters).getByRole('group', { name: 'Event types' });
    await user.click(within(types).getByRole('checkbox', { name: 'Failed sign-ins' }));
    await user.click(within(types).getByRole('checkbox', { name: 'Too many attempts' }));
    await user.type(within(filters).getByLabelText('User email'), ' bob@example.com ');
    await user.type(within(filters).getByLabelText('From'), '2026-03-01');
    await user.type(within(filters).getByLabelText('To'), '2026-02-01');
    await user.click(within(filters).getByRole('button', { name: 'Apply filters' }));
    expect(within(filters).getByText('The end date is before the start date.')).toBeTruthy();
    expect(within(filters).getByLabelText('To').getAttribute('aria-invalid')).toBe('true');

    await user.clear(within(filters).getByLabelText('To'));
    await user.type(within(filters).getByLabelText('To'), '2026-03-02');
    const before = api.callsTo('admin.auditEvents').length;
    await user.click(within(filters).getByRole('button', { name: 'Apply filters' }));
    await waitFor(() => expect(api.callsTo('admin.auditEvents').length).toBeGreaterThan(before));
    expect(api.callsTo('admin.auditEvents').at(-1)).toEqual({
      types: ['sign_in_failed', 'rate_limited'],
      email: 'bob@example.com',
      from: new Date(2026, 2, 1).getTime(),
      // The whole of the last day: the server's upper bound is exclusive.
      to: new Date(2026, 2, 3).getTime(),
      limit: 25,
      direction: 'forward',
    });
    expect(await screen.findByText(/matching the filters, newest first\.$/)).toBeTruthy();

    await user.click(within(filters).getByRole('button', { name: 'Clear filters' }));
    expect(
      (within(types).getByRole('checkbox', { name: 'Failed sign-ins' }) as HTMLInputElement).checked,
    ).toBe(false);
    expect((within(filters).getByLabelText('User email') as HTMLInputElement).value).toBe('');
  });

  test('device events: a binding, and a refused proof that stands out; both can be filtered', async () => {
    const { api } = renderApp('/admin/audit', {
      ...admin(),
      'admin.auditEvents': () => ({
        events: [
          auditEvent('d2', {
            type: 'device_proof_refused',
            detail: { reason: 'foreign_key' },
            actor: { kind: 'self', userId: 'u2', sessionId: 's1' },
          }),
          auditEvent('d1', { type: 'device_bound', detail: { alg: 'ES256' } }),
        ],
        nextCursor: null,
      }),
    });
    const user = userEvent.setup();
    const events = await screen.findByRole('region', { name: 'Events' });
    const items = await within(events).findAllByRole('listitem');
    expect(items.map((li) => li.getAttribute('aria-label'))).toEqual([
      'Refused: Refused a device proof: it came from a different device',
      'Session bound to its device',
    ]);
    expect(within(items[0]!).getByText('Refused').className).toContain('badge');
    expect(items.map((li) => li.classList.contains('event--alert'))).toEqual([true, false]);
    // Whoever held a copy of the cookie: not "bob@example.com".
    expect(within(items[0]!).getByText('a browser using the session')).toBeTruthy();
    expect(within(items[1]!).getByText('bob@example.com', { selector: 'dd' })).toBeTruthy();

    const types = within(screen.getByRole('region', { name: 'Filters' })).getByRole('group', {
      name: 'Event types',
    });
    await user.click(within(types).getByRole('checkbox', { name: 'Device bindings' }));
    await user.click(within(types).getByRole('checkbox', { name: 'Refused device proofs' }));
    await user.click(screen.getByRole('button', { name: 'Apply filters' }));
    await waitFor(() =>
      expect(api.callsTo('admin.auditEvents').at(-1)).toEqual({
        types: ['device_bound', 'device_proof_refused'],
        limit: 25,
        direction: 'forward',
      }),
    );
  });

  test('a link from a user’s page arrives filtered by email', async () => {
    const { api } = renderApp('/admin/audit?email=bob%40example.com&types=sign_in,bogus', {
      ...admin(),
      'admin.auditEvents': () => ({ events: [], nextCursor: null }),
    });
    expect(await screen.findByText('No events match these filters.')).toBeTruthy();
    expect((screen.getByLabelText('User email') as HTMLInputElement).value).toBe('bob@example.com');
    expect((screen.getByRole('checkbox', { name: 'Sign-ins' }) as HTMLInputElement).checked).toBe(true);
    expect(api.callsTo('admin.auditEvents')).toEqual([
      { types: ['sign_in'], email: 'bob@example.com', limit: 25, direction: 'forward' },
    ]);
  });
});
