/**
 * Smoke test: `bench --quick` runs end to end (private Redis, the built server, the peer, PostgreSQL
 * when present) and writes its three files. It asserts that every target produced a row and nothing
 * errored, never what the numbers are: timings on a shared machine are not test material.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const main = new URL('../dist/main.js', import.meta.url).pathname;

describe('bench --quick', () => {
  const out = mkdtempSync(join(tmpdir(), 'tessera-bench-smoke-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('measures every target and writes JSON, SVG and Markdown', async () => {
    // turbo runs `build` before `test`; run directly, build first (pnpm --filter @tessera/bench build).
    if (!existsSync(main)) throw new Error(`${main} is missing: build the bench first`);
    const { stdout } = await run('node', [main, '--quick', '--out', out], { maxBuffer: 16 * 1024 * 1024 });
    expect(stdout).toMatch(/\d+ pass, \d+ fail/);
    const json = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8')) as {
      rows: { id: string; tessera: string }[];
      errors: string[];
    };
    expect(json.errors).toEqual([]);
    const ids = new Set(json.rows.map((r) => r.id));
    for (const id of ['1', '2', '3', '4', '5', '6', '7', '8', '9']) expect(ids).toContain(id);
    expect(json.rows.filter((r) => r.tessera === 'error')).toEqual([]);
    expect(readFileSync(join(out, 'latest.svg'), 'utf8')).toMatch(/^<svg [^>]*>[\s\S]*<\/svg>\s*$/);
    expect(readFileSync(join(out, 'latest.md'), 'utf8')).toContain('| # | target |');
  });
});
