/**
 * Turns a stored User-Agent into what a session list shows. The only file that imports the parser,
 * so it can be swapped in one place. We use ua-parser-js 1.0.x: MIT and maintained (2.x is
 * AGPL-3.0-or-later, which teams lifting this code into their own apps can't always accept).
 */
import { UAParser } from 'ua-parser-js';

export interface DeviceSummary {
  /** e.g. "Chrome 126"; null when unknown. */
  browser: string | null;
  /** e.g. "macOS 14.5"; null when unknown. */
  os: string | null;
  /** mobile, tablet, smarttv, wearable, console, embedded, xr, or desktop when a browser was recognised. */
  device: string | null;
}

const cache = new Map<string, DeviceSummary>();

const join = (...parts: (string | undefined)[]) => parts.filter(Boolean).join(' ') || null;

export function describeUserAgent(userAgent: string | null): DeviceSummary {
  if (!userAgent) return { browser: null, os: null, device: null };
  const hit = cache.get(userAgent);
  if (hit) return hit;
  const r = UAParser(userAgent);
  const browser = join(r.browser.name, r.browser.major ?? r.browser.version);
  const summary: DeviceSummary = {
    browser,
    // 1.0.x still says "Mac OS"; people know it as macOS.
    os: join(r.os.name === 'Mac OS' ? 'macOS' : r.os.name, r.os.version),
    device: r.device.type ?? (browser ? 'desktop' : null),
  };
  if (cache.size > 1000) cache.clear();
  cache.set(userAgent, summary);
  return summary;
}
