/** Formatting of times for people: the browser's locale, the browser's time zone. */

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const timeOnly = new Intl.DateTimeFormat(undefined, { hour: 'numeric', minute: '2-digit' });
const full = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'long' });

/** "29 Nov 2025, 11:02" */
export const formatDateTime = (ms: number) => dateTime.format(ms);
/** "11:02" */
export const formatTime = (ms: number) => timeOnly.format(ms);
/** "Saturday, 29 November 2025 at 11:02:31 CET": for a tooltip with the exact time. */
export const formatExact = (ms: number) => full.format(ms);

/** "just now", "3 minutes ago", "2 hours ago", "yesterday", "5 days ago" (rounded down). */
export function formatRelative(ms: number, now: number): string {
  const seconds = Math.max(0, Math.floor((now - ms) / 1000));
  if (seconds < 60) return 'just now';
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} minute${minutes === 1 ? '' : 's'} ago`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours} hour${hours === 1 ? '' : 's'} ago`;
  const days = Math.floor(hours / 24);
  return days === 1 ? 'yesterday' : `${days} days ago`;
}

/** "1:05" (m:ss) for a countdown; never negative. */
export function formatCountdown(ms: number): string {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const m = Math.floor(total / 60);
  const s = total % 60;
  return `${m}:${String(s).padStart(2, '0')}`;
}

/** "24 hours", "30 minutes", "45 seconds", "1 hour 30 minutes": a duration in words. */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const part = (n: number, unit: string) => `${n} ${unit}${n === 1 ? '' : 's'}`;
  const parts = [h ? part(h, 'hour') : '', m ? part(m, 'minute') : '', !h && !m ? part(s, 'second') : ''];
  return parts.filter(Boolean).join(' ');
}

/** "in 15 minutes" / "in 40 seconds" for a wait. */
export function formatWait(seconds: number): string {
  if (seconds < 60) return `${seconds} second${seconds === 1 ? '' : 's'}`;
  const minutes = Math.ceil(seconds / 60);
  return `${minutes} minute${minutes === 1 ? '' : 's'}`;
}
