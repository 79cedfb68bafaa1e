/**
 * Durations as people write them, for what the server prints (the start banner): `4s`, `15s`, `30m`,
 * `24h`, `1h30m`, `500ms`. The same units session-core's `parseDuration` reads, so a printed value can
 * be pasted back into SESSION_IDLE_TIMEOUT and friends and means the same thing.
 */

const UNITS: readonly [suffix: string, ms: number][] = [
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1_000],
  ['ms', 1],
];

/**
 * Whole milliseconds (fractions are rounded) as days, hours, minutes, seconds and milliseconds, largest
 * first, zero parts left out: 90_000 -> `1m30s`, 0 -> `0s`. Under two days in hours, as a session's
 * absolute timeout is written (`24h`, `36h`); from two days on in days (`2d`, `14d`, `90d`).
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`formatDuration: expected ms >= 0, got ${ms}`);
  let rest = Math.round(ms);
  if (rest === 0) return '0s';
  let text = '';
  for (const [suffix, size] of UNITS) {
    if (suffix === 'd' && rest < 2 * size) continue;
    const count = Math.floor(rest / size);
    if (count === 0) continue;
    text += `${count}${suffix}`;
    rest -= count * size;
  }
  return text;
}
