import { formatDateTime } from '../lib/time';

/** A chip (the device's security hardware, where its key lives): outline and two pins a side. */
export const CHIP_PATH =
  'M8 6h8a2 2 0 0 1 2 2v8a2 2 0 0 1-2 2H8a2 2 0 0 1-2-2V8a2 2 0 0 1 2-2zM10 2.5V6M14 2.5V6M10 18v3.5M14 18v3.5M2.5 10H6M2.5 14H6M18 10h3.5M18 14h3.5';

/**
 * The chip inside a 24x24 line icon: few, large parts, so that it still reads as one at badge size
 * (15 px on a 1x screen).
 */
export function ChipGlyph({ strokeWidth }: { strokeWidth: number }) {
  return (
    <>
      <path d={CHIP_PATH} fill="none" stroke="currentColor" strokeWidth={strokeWidth} strokeLinecap="round" />
      <rect x="10" y="10" width="4" height="4" rx="0.5" fill="currentColor" />
    </>
  );
}

/** What binding means for the person reading it, with the time it happened. */
const deviceBoundExplanation = (since: number) =>
  `Bound to its device’s security key since ${formatDateTime(since)}: a copy of this sign-in won’t work on another device.`;

/**
 * "Device-bound", for a session whose browser proved a key held by the device (DBSC): an icon and a
 * word, never the colour alone. The explanation is the tooltip for a pointer and part of the text for
 * a screen reader (a title alone reaches neither touch nor most screen readers).
 */
export function DeviceBoundBadge({ since }: { since: number }) {
  const explanation = deviceBoundExplanation(since);
  return (
    <span className="badge badge--bound" title={explanation}>
      <svg className="badge__icon" viewBox="0 0 24 24" aria-hidden="true" focusable="false">
        <ChipGlyph strokeWidth={2} />
      </svg>
      Device-bound
      <span className="visually-hidden">. {explanation}</span>
    </span>
  );
}
