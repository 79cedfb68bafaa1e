import { describe, expect, test } from 'vitest';
import { absoluteNoticeLead, DeadlineTracker, idleWarningLead, trackingFetch } from '../src/lib/deadlines';
import { formatCountdown, formatDuration, formatRelative } from '../src/lib/time';

const MIN = 60_000;

describe('DeadlineTracker', () => {
  test('learns deadlines and the clock offset from auth.me', () => {
    const t = new DeadlineTracker();
    // The server's clock runs 5 s ahead; the request took 200 ms.
    t.fromMe(
      {
        createdAt: 0,
        lastActivityAt: 105_100,
        idleExpiresAt: 105_100 + 30 * MIN,
        absoluteExpiresAt: 24 * 60 * MIN,
      },
      100_000,
      100_200,
    );
    expect(t.state).toEqual({
      idleAt: 100_100 + 30 * MIN,
      absoluteAt: 24 * 60 * MIN - 5_000,
      idleMs: 30 * MIN,
      absoluteMs: 24 * 60 * MIN,
    });
  });

  test('a request slides the idle deadline from its start, never past the absolute one', () => {
    const t = new DeadlineTracker();
    const shared: number[] = [];
    t.onLocalChange = (at) => shared.push(at);
    t.fromMe(
      { createdAt: 0, lastActivityAt: 1_000, idleExpiresAt: 1_000 + 10 * MIN, absoluteExpiresAt: 20 * MIN },
      1_000,
      1_000,
    );
    t.touched(5 * MIN);
    expect(t.state.idleAt).toBe(15 * MIN);
    t.touched(4 * MIN); // an older request can't pull it back
    expect(t.state.idleAt).toBe(15 * MIN);
    t.touched(15 * MIN);
    expect(t.state.idleAt).toBe(20 * MIN);
    expect(shared).toEqual([15 * MIN, 20 * MIN]);
  });

  test('another tab can only push the deadline later', () => {
    const t = new DeadlineTracker();
    t.fromMe({ createdAt: 0, lastActivityAt: 0, idleExpiresAt: 10 * MIN, absoluteExpiresAt: 60 * MIN }, 0, 0);
    t.fromOtherTab(5 * MIN);
    expect(t.state.idleAt).toBe(10 * MIN);
    t.fromOtherTab(12 * MIN);
    expect(t.state.idleAt).toBe(12 * MIN);
  });

  test('trackingFetch counts answered requests only (not 401, 5xx or network failures)', async () => {
    const t = new DeadlineTracker();
    t.fromMe({ createdAt: 0, lastActivityAt: 0, idleExpiresAt: 10 * MIN, absoluteExpiresAt: 60 * MIN }, 0, 0);
    let now = MIN;
    let status = 200;
    const fetch = trackingFetch(
      t,
      async () => new Response('[]', { status }),
      () => now,
    );
    await fetch('/trpc/x');
    expect(t.state.idleAt).toBe(11 * MIN);
    for (const s of [401, 503]) {
      status = s;
      now += MIN;
      await fetch('/trpc/x');
    }
    expect(t.state.idleAt).toBe(11 * MIN);
    status = 403; // refused, but the session was valid and touched
    await fetch('/trpc/x');
    expect(t.state.idleAt).toBe(now + 10 * MIN);
  });
});

test.each([
  [30 * MIN, 2 * MIN],
  [3 * MIN, 1.5 * MIN],
  [20_000, 10_000],
])('idle warning lead for %i ms is %i ms', (idle, lead) => expect(idleWarningLead(idle)).toBe(lead));

test.each([
  [24 * 60 * MIN, 10 * MIN],
  [10 * MIN, 5 * MIN],
])('absolute notice lead for %i ms is %i ms', (abs, lead) => expect(absoluteNoticeLead(abs)).toBe(lead));

test.each([
  [0, 'just now'],
  [59_000, 'just now'],
  [MIN, '1 minute ago'],
  [59 * MIN, '59 minutes ago'],
  [60 * MIN, '1 hour ago'],
  [25 * 60 * MIN, 'yesterday'],
  [72 * 60 * MIN, '3 days ago'],
])('relative time %i ms ago: %s', (ago, text) => expect(formatRelative(1e12 - ago, 1e12)).toBe(text));

test('countdown and durations', () => {
  expect(formatCountdown(120_000)).toBe('2:00');
  expect(formatCountdown(9_001)).toBe('0:10');
  expect(formatCountdown(-5)).toBe('0:00');
  expect(formatDuration(24 * 60 * MIN)).toBe('24 hours');
  expect(formatDuration(90 * MIN)).toBe('1 hour 30 minutes');
  expect(formatDuration(45_000)).toBe('45 seconds');
});
