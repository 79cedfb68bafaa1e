/**
 * scripts/with-build.mjs (`pnpm start`, `pnpm cli`) builds only when something changed since its last
 * build: run in a small workspace of its own whose `turbo` only records that it ran, so the test
 * counts builds without building anything (or depending on the state of the real checkout).
 */
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';

const SCRIPT = fileURLToPath(new URL('../scripts/with-build.mjs', import.meta.url));

let root: string;
const path = (...parts: string[]) => join(root, ...parts);
const write = (file: string, text: string) => {
  mkdirSync(dirname(path(file)), { recursive: true });
  writeFileSync(path(file), text);
};
/** Every `turbo` call so far, one line each. */
const builds = () =>
  existsSync(path('turbo.log')) ? readFileSync(path('turbo.log'), 'utf8').trim().split('\n') : [];

function run(entry: string, ...args: string[]) {
  const r = spawnSync(process.execPath, [path('apps/server/scripts/with-build.mjs'), entry, ...args], {
    encoding: 'utf8',
    env: { ...process.env, NODE_ENV: 'production', CI: '' },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'tessera-with-build-'));
  write('package.json', '{"name":"root","private":true}\n');
  write('pnpm-workspace.yaml', "packages:\n  - apps/*\n  - 'packages/*'\n\ncatalog:\n  x: 1.0.0\n");
  write('turbo.json', '{}\n');
  const manifest = (name: string, deps: Record<string, string>, build = true) =>
    `${JSON.stringify({ name, scripts: build ? { build: 'tsc' } : {}, dependencies: deps })}\n`;
  write('apps/server/package.json', manifest('@tessera/server', { '@tessera/core': 'workspace:*' }));
  write('apps/server/src/cli.ts', 'export {};\n');
  write('packages/core/package.json', manifest('@tessera/core', {}));
  write('packages/core/src/index.ts', 'export const x = 1;\n');
  // Not a dependency of the server: its changes must not cause a build.
  write('packages/other/package.json', manifest('@tessera/other', {}));
  write('packages/other/src/index.ts', 'export {};\n');
  mkdirSync(path('apps/server/scripts'), { recursive: true });
  copyFileSync(SCRIPT, path('apps/server/scripts/with-build.mjs'));
  // The workspace's `turbo`: records the call, then "builds" (writes every package's dist).
  write(
    'node_modules/.bin/turbo',
    `#!${process.execPath}
const { appendFileSync, mkdirSync, writeFileSync } = require('node:fs');
const root = ${JSON.stringify(root)};
appendFileSync(root + '/turbo.log', process.argv.slice(2).join(' ') + '\\n');
for (const dir of ['apps/server', 'packages/core', 'packages/other']) mkdirSync(root + '/' + dir + '/dist', { recursive: true });
writeFileSync(root + '/apps/server/dist/cli.js', 'console.log("cli ran:", process.argv.slice(2).join(" "));\\n');
process.exit(process.env.TURBO_FAILS ? 1 : 0);
`,
  );
  chmodSync(path('node_modules/.bin/turbo'), 0o755);
});
afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

it('builds on the first run, then runs the CLI without any build while nothing changed', () => {
  const first = run('cli', 'users', 'list');
  expect(first).toMatchObject({ status: 0, stdout: 'cli ran: users list\n' });
  expect(first.stderr).toContain('Building @tessera/server');
  expect(builds()).toEqual(['run build --filter=@tessera/server... --output-logs=errors-only']);

  for (let i = 0; i < 2; i++) {
    const again = run('cli', 'users', 'list');
    expect(again).toMatchObject({ status: 0, stdout: 'cli ran: users list\n', stderr: '' });
  }
  expect(builds()).toHaveLength(1);
});

it('builds again when a source of the server or of a package it depends on changes, or goes away', () => {
  const n = builds().length;
  const now = new Date();
  utimesSync(path('packages/core/src/index.ts'), now, now); // an edit
  expect(run('cli').status).toBe(0);
  expect(builds()).toHaveLength(n + 1);
  expect(run('cli').status).toBe(0);
  expect(builds()).toHaveLength(n + 1);

  rmSync(path('apps/server/src/cli.ts')); // one file fewer
  expect(run('cli').status).toBe(0);
  expect(builds()).toHaveLength(n + 2);

  // Restored with its old timestamps (cp -p, tar): the mtime says 2001, the ctime says now.
  write('apps/server/src/cli.ts', 'export const restored = true;\n');
  utimesSync(path('apps/server/src/cli.ts'), new Date('2001-01-01'), new Date('2001-01-01'));
  expect(run('cli').status).toBe(0);
  expect(builds()).toHaveLength(n + 3);

  write('packages/other/src/index.ts', 'export const changed = true;\n'); // not a dependency
  expect(run('cli').status).toBe(0);
  expect(builds()).toHaveLength(n + 3);
});

it('builds again when an output is missing, the lockfile changed, or NODE_ENV differs', () => {
  let n = builds().length;
  rmSync(path('packages/core/dist'), { recursive: true });
  expect(run('cli').status).toBe(0);
  expect(builds()).toHaveLength(++n);

  write('pnpm-lock.yaml', 'lockfileVersion: 9.0\n');
  expect(run('cli').status).toBe(0);
  expect(builds()).toHaveLength(++n);

  const dev = spawnSync(process.execPath, [path('apps/server/scripts/with-build.mjs'), 'cli'], {
    env: { ...process.env, NODE_ENV: 'development', CI: '' },
  });
  expect(dev.status).toBe(0);
  expect(builds()).toHaveLength(++n);
});

it('a failed build stops the run and is tried again next time', () => {
  const n = builds().length;
  utimesSync(path('apps/server/package.json'), new Date(), new Date());
  const failed = spawnSync(process.execPath, [path('apps/server/scripts/with-build.mjs'), 'cli'], {
    encoding: 'utf8',
    env: { ...process.env, NODE_ENV: 'production', CI: '', TURBO_FAILS: '1' },
  });
  expect(failed.status).toBe(1);
  expect(failed.stderr).toContain('Build failed');
  expect(failed.stdout).not.toContain('cli ran');
  expect(run('cli').status).toBe(0);
  expect(builds()).toHaveLength(n + 2);
});
