import { act, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { afterEach, beforeEach, expect, test, vi } from 'vitest';
import { signedInHandlers } from './fake-api';
import { renderApp } from './render';

beforeEach(() => {
  vi.useFakeTimers({
    shouldAdvanceTime: true,
    toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'],
  });
});
afterEach(() => {
  vi.useRealTimers();
});

const advance = (ms: number) => act(async () => void (await vi.advanceTimersByTimeAsync(ms)));
const countdown = () => screen.getByRole('alertdialog').querySelector('.countdown')?.textContent;

test('the idle warning opens 2 minutes before the deadline, counts down, and "Stay signed in" pings', async () => {
  const { api } = renderApp('/sessions', signedInHandlers({ idleMs: 5 * 60_000 }));
  await screen.findByRole('region', { name: 'Current session' });
  const requestsAfterLoad = api.calls.length;

  await advance(2 * 60_000 + 30_000);
  expect(screen.queryByRole('alertdialog')).toBeNull();
  // No request in the background: nothing keeps the idle session alive but the person.
  expect(api.calls.length).toBe(requestsAfterLoad);

  await advance(31_000);
  const dialog = screen.getByRole('alertdialog', { name: 'Are you still there?' });
  expect(countdown()).toMatch(/^(2:00|1:59)$/);
  expect(document.activeElement).toBe(screen.getByRole('button', { name: 'Stay signed in' }));

  await advance(30_000);
  expect(countdown()).toMatch(/^(1:30|1:29)$/);
  expect(dialog.textContent).toContain('signed out because of inactivity');

  fireEvent.click(screen.getByRole('button', { name: 'Stay signed in' }));
  await advance(10);
  expect(api.callsTo('auth.ping')).toHaveLength(1);
  expect(screen.queryByRole('alertdialog')).toBeNull();
});

const heading = () => screen.getByRole('heading', { level: 1 }).textContent;

test('doing nothing ends the session for inactivity when the deadline passes', async () => {
  const { tabs } = renderApp('/sessions', signedInHandlers({ idleMs: 5 * 60_000 }));
  await screen.findByRole('region', { name: 'Current session' });
  await advance(3 * 60_000 + 1_000);
  expect(screen.getByRole('alertdialog')).toBeTruthy();
  await advance(2 * 60_000);
  await waitFor(() => expect(heading()).toBe('You were signed out after a period of inactivity'));
  expect(tabs.posted).toContainEqual({ type: 'ended', reason: 'idle_timeout' });
});

test('"Sign out" in the warning signs out', async () => {
  const { api } = renderApp('/sessions', signedInHandlers({ idleMs: 5 * 60_000 }));
  await screen.findByRole('region', { name: 'Current session' });
  await advance(3 * 60_000 + 1_000);
  fireEvent.click(within(screen.getByRole('alertdialog')).getByRole('button', { name: 'Sign out' }));
  await waitFor(() => expect(heading()).toBe('You signed out'));
  expect(api.callsTo('auth.logout')).toHaveLength(1);
});

test('another tab’s activity pushes the deadline back', async () => {
  const { tabs } = renderApp('/sessions', signedInHandlers({ idleMs: 5 * 60_000 }));
  await screen.findByRole('region', { name: 'Current session' });
  await advance(2 * 60_000);
  tabs.deliver({ type: 'deadline', idleExpiresAt: Date.now() + 5 * 60_000 });
  await advance(2 * 60_000);
  expect(screen.queryByRole('alertdialog')).toBeNull();
  await advance(61_000 + 1_000);
  expect(screen.getByRole('alertdialog')).toBeTruthy();
});

test('the absolute deadline gets its own notice 10 minutes before (and no idle warning)', async () => {
  renderApp('/sessions', signedInHandlers({ idleMs: 30 * 60_000, absoluteMs: 25 * 60_000 }));
  await screen.findByRole('region', { name: 'Current session' });
  expect(screen.queryByText(/Your session ends at/)).toBeNull();
  // Created a minute before "now": the absolute deadline is 24 minutes away; the notice shows at 10.
  await advance(14 * 60_000 + 1_000);
  expect(screen.getByText(/Your session ends at/).closest('[role="status"]')?.textContent).toMatch(
    /in 10 minutes/,
  );
  expect(screen.queryByRole('alertdialog')).toBeNull();
  fireEvent.click(screen.getByRole('button', { name: 'Dismiss' }));
  expect(screen.queryByText(/Your session ends at/)).toBeNull();
  await advance(10 * 60_000);
  await waitFor(() => expect(heading()).toBe('Your session reached its time limit'));
  expect(screen.getByRole('status').textContent).toMatch(/at most 25 minutes/);
});
