import { useEffect, useRef, useState } from 'react';

/** The current time, re-rendering every `intervalMs` (a local timer: no request). */
export function useNow(intervalMs = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(timer);
  }, [intervalMs]);
  return now;
}

/**
 * Moves focus to the screen's heading when it mounts, so keyboard and screen-reader users land at the
 * start of the new screen after a route change (a SPA doesn't get the browser's own page-load focus).
 */
export function useFocusOnMount<T extends HTMLElement>(enabled = true) {
  const ref = useRef<T>(null);
  // Only on mount: `enabled` says whether this screen's heading is where focus belongs at all.
  useEffect(() => {
    if (enabled) ref.current?.focus();
  }, []);
  return ref;
}

/** `value`, once it has stopped changing for `ms` (a search box asks the server once per pause). */
export function useDebounced<T>(value: T, ms: number): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setSettled(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return settled;
}
