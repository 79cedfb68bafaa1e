import { formatExact, formatRelative } from '../lib/time';

/** "3 minutes ago", with the exact date and time on hover (title) and for machines (dateTime). */
export function RelativeTime({ at, now }: { at: number; now: number }) {
  return (
    <time dateTime={new Date(at).toISOString()} title={formatExact(at)}>
      {formatRelative(at, now)}
    </time>
  );
}
