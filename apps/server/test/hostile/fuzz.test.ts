/**
 * The fuzz run (scripts/fuzz.ts, `pnpm fuzz` sends 10,000) in CI: FUZZ_REQUESTS (default 1,500)
 * random and mutated requests with a fixed seed (FUZZ_SEED to change it), Redis killed for the middle
 * tenth. No 5xx except a 503 while Redis was down, no error-level log line, and the server alive and
 * healthy afterwards (it signs a user in).
 */
import { expect, it } from 'vitest';
import { runFuzz } from '../../scripts/fuzz.js';

it('random and mutated requests: no 5xx but the deliberate 503s, healthy after', async () => {
  const report = await runFuzz({
    requests: Number(process.env.FUZZ_REQUESTS ?? 1_500),
    seed: Number(process.env.FUZZ_SEED ?? 20_261_129),
  });
  expect(report.serverErrors).toEqual([]);
  expect(report.errorLogs).toEqual([]);
  expect(report.healthyAfter).toBe(true);
  expect(report.outage.requests).toBeGreaterThan(0);
  expect(report.statuses['200'] ?? 0).toBeGreaterThan(0);
}, 180_000);
