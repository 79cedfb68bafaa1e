import type { CallResult, HttpClient } from './http.js';

/** One request of a load run, timed against performance.now(). */
export interface Sample {
  client: number;
  label: string;
  start: number;
  end: number;
  status: number;
  /** The response carried result data (what a caller could read). */
  hasData: boolean;
  /** The response set a non-empty session cookie. */
  setsSession: boolean;
  /** The response cleared the session cookie. */
  clearsSession: boolean;
}

export type Call = (c: HttpClient, i: number) => Promise<CallResult> & { label?: string };

/**
 * Keeps `clients.length` loops of requests going until `stop()`; each loop picks its next call with
 * `next(client, i)`. A network error (the server gone) is recorded as status 0.
 */
export function runLoad(
  clients: HttpClient[],
  next: (c: HttpClient, i: number) => { label: string; call: () => Promise<CallResult> },
  options: { pauseMs?: number } = {},
) {
  const samples: Sample[] = [];
  let running = true;
  const loops = clients.map(async (c, client) => {
    for (let i = 0; running; i++) {
      const { label, call } = next(c, i);
      const start = performance.now();
      let status = 0;
      let hasData = false;
      let setsSession = false;
      let clearsSession = false;
      try {
        const r = await call();
        status = r.status;
        hasData = r.data !== undefined;
        setsSession = r.setCookies.some((h) => /^__Host-tessera=[^;]/.test(h));
        clearsSession = r.setCookies.some((h) => /^__Host-tessera=;/.test(h));
      } catch {
        status = 0;
      }
      samples.push({
        client,
        label,
        start,
        end: performance.now(),
        status,
        hasData,
        setsSession,
        clearsSession,
      });
      if (options.pauseMs) await new Promise((r) => setTimeout(r, options.pauseMs));
    }
  });
  return {
    samples,
    async stop() {
      running = false;
      await Promise.all(loops);
      return samples;
    },
  };
}

/** Counts by status, e.g. `{ 200: 812, 503: 97 }`. */
export function histogram(samples: Sample[]): Record<number, number> {
  const out: Record<number, number> = {};
  for (const s of samples) out[s.status] = (out[s.status] ?? 0) + 1;
  return out;
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` every `everyMs` until it is true; returns the ms it took, or throws after `timeoutMs`. */
export async function waitFor(
  check: () => Promise<boolean>,
  timeoutMs: number,
  everyMs = 50,
): Promise<number> {
  const start = performance.now();
  for (;;) {
    if (await check().catch(() => false)) return performance.now() - start;
    if (performance.now() - start > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(everyMs);
  }
}
