/**
 * The soak run (scripts/soak.ts, `pnpm soak` runs it for 10 minutes) in CI: SOAK_DURATION (default
 * 20 s) of mixed traffic from 40 users. No unexpected status (no 5xx), the Redis key count back to
 * its baseline after expiry (no index leak), server RSS growth under 10 % after warm-up, and a
 * well-formed SVG plot. The server runs with a small V8 heap here (64 MB old space) so that it reaches
 * its steady state within seconds and a leak shows as growth (or a crash) in a short run; the default
 * `pnpm soak` runs it as configured in production, over 10 minutes.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDuration } from '@tessera/session-core';
import { afterAll, expect, it } from 'vitest';
import { runSoak } from '../../scripts/soak.js';

const dir = mkdtempSync(join(tmpdir(), 'tessera-soak-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('mixed traffic: no 5xx, keys back to baseline, RSS growth < 10 %, a plot', async () => {
  const durationMs = parseDuration(process.env.SOAK_DURATION ?? '20s');
  const svgPath = join(dir, 'soak.svg');
  const report = await runSoak({
    durationMs,
    clients: 8,
    svgPath,
    nodeArgs: ['--max-old-space-size=64', '--max-semi-space-size=2'],
  });
  expect(report.unexpected).toEqual({});
  expect(Object.keys(report.statuses).filter((s) => Number(s) >= 500)).toEqual([]);
  expect(report.requests).toBeGreaterThan(durationMs / 100);
  expect(report.keys.peak).toBeGreaterThan(report.keys.baseline);
  expect(report.keys.backToBaseline).toBe(true);
  expect(report.rss.growth).toBeLessThan(0.1);
  expect(report.passed).toBe(true);
  const svg = readFileSync(svgPath, 'utf8');
  expect(svg).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  expect(svg.match(/<polyline /g)).toHaveLength(4);
}, 180_000);
