import { SessionConfigError } from './errors.js';

/** A duration: milliseconds as a number, or a string like `'30m'`, `'24h'`, `'1h30m'`, `'90s'`, `'500ms'`. */
export type Duration = number | string;

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};
const PART = /(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)/gy;

/** Parses a duration to whole milliseconds; throws SessionConfigError on anything else. */
export function parseDuration(value: Duration, name = 'duration'): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0)
      throw new SessionConfigError(`${name} must be a finite number of ms >= 0, got ${value}`);
    return Math.round(value);
  }
  if (typeof value !== 'string')
    throw new SessionConfigError(`${name} must be a number of ms or a string like '30m'`);
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text);
  let total = 0;
  let end = 0;
  PART.lastIndex = 0;
  for (let match = PART.exec(text); match; match = PART.exec(text)) {
    total += Number(match[1]) * (UNIT_MS[match[2]!] ?? Number.NaN);
    end = PART.lastIndex;
    while (text[end] === ' ') end++;
    PART.lastIndex = end;
  }
  if (
    text.length === 0 ||
    end !== text.length ||
    !Number.isFinite(total) ||
    total > Number.MAX_SAFE_INTEGER
  ) {
    throw new SessionConfigError(
      `${name}: can't read '${value}' as a duration (examples: 30m, 24h, 1h30m, 90s, 500ms)`,
    );
  }
  return Math.round(total);
}
