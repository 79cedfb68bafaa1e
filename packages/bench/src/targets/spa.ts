/**
 * Target 9: initial JS of the sign-in page, gzipped, as apps/web's own size report counts it
 * (apps/web/scripts/size.mjs: every script index.html loads or preloads). The bench does not build the
 * web app; it reads the last build (apps/web/dist) and says 'n/a' when there is none.
 */
import { execFile } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { promisify } from 'node:util';
import { inRepo } from '../lib/paths.js';
import type { PhaseResult } from '../lib/results.js';
import { summarize } from '../lib/stats.js';

const run = promisify(execFile);
const BUDGET_KB = 110;

export async function runSpaTarget(): Promise<PhaseResult> {
  const script = inRepo('apps/web/scripts/size.mjs');
  const index = inRepo('apps/web/dist/index.html');
  const row = {
    id: '9',
    target: 'SPA: initial JS of the sign-in page, gzip',
    peer: '',
    ratio: '',
    goal: `<= ${BUDGET_KB} KB`,
  };
  if (!existsSync(script) || !existsSync(index)) {
    return {
      rows: [
        { ...row, tessera: 'n/a', pass: null, note: 'no apps/web build (pnpm --filter @tessera/web build)' },
      ],
      metrics: {},
      panels: [],
    };
  }
  let stdout: string;
  try {
    ({ stdout } = await run('node', [script], {
      env: { ...process.env, SIZE_BUDGET_KB: String(BUDGET_KB) },
    }));
  } catch (error) {
    // Over budget exits 1 but still prints the report.
    stdout = (error as { stdout?: string }).stdout ?? '';
  }
  const match = /total JS: ([\d.]+) KB gzip/.exec(stdout);
  if (!match) {
    return {
      rows: [{ ...row, tessera: 'n/a', pass: null, note: 'could not read apps/web/scripts/size.mjs output' }],
      metrics: {},
      panels: [],
    };
  }
  const kb = Number(match[1]);
  const built = statSync(index).mtime.toISOString().slice(0, 16).replace('T', ' ');
  return {
    rows: [
      {
        ...row,
        tessera: `${kb.toFixed(1)} KB`,
        pass: kb <= BUDGET_KB,
        note: `apps/web/dist built ${built} UTC (KB = 1024 bytes)`,
      },
    ],
    metrics: { 'target9.initialJsGzipKb': { unit: 'KB', summary: summarize([kb]) } },
    panels: [],
  };
}
