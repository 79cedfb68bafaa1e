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
export function useFocusOnMount<T extends HTMLElement>() {
  const ref = useRef<T>(null);
  useEffect(() => {
    ref.current?.focus();
  }, []);
  return ref;
}
