#!/usr/bin/env node
// `pnpm start` / `pnpm cli` from the repository root: build the server and what it depends on (turbo,
// cached), quietly unless the build fails, then run dist/<entry>.js with the remaining arguments,
// forwarding signals so Ctrl-C and `kill` stop the server cleanly. For `main` it also builds the web
// app when it exists, so the one process serves the SPA too; if that build fails the API still starts.
//   node apps/server/scripts/with-build.mjs main|cli [args...]
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter } from 'node:path';
import { fileURLToPath } from 'node:url';

const [entry, ...args] = process.argv.slice(2);
if (entry !== 'main' && entry !== 'cli') {
  process.stderr.write('usage: with-build.mjs main|cli [args...]\n');
  process.exit(2);
}

// The repository's own turbo, also when this script is run with plain `node` rather than through pnpm.
const bin = fileURLToPath(new URL('../../../node_modules/.bin', import.meta.url));
const env = {
  ...process.env,
  PATH: `${bin}${delimiter}${process.env.PATH ?? ''}`,
  TURBO_TELEMETRY_DISABLED: '1',
  TURBO_NO_UPDATE_NOTIFIER: '1',
};
const build = (filter) =>
  spawnSync('turbo', ['run', 'build', `--filter=${filter}`, '--output-logs=errors-only'], {
    env,
    encoding: 'utf8',
    shell: process.platform === 'win32',
  });
const output = (r) => `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? `${r.error.message}\n` : ''}`;

const server = build('@tessera/server...');
if (server.status !== 0) {
  process.stderr.write(`${output(server)}Build failed: see above.\n`);
  process.exit(server.status ?? 1);
}
if (entry === 'main' && existsSync(fileURLToPath(new URL('../../web/package.json', import.meta.url)))) {
  const web = build('@tessera/web');
  if (web.status !== 0) {
    process.stderr.write(`${output(web)}The web app did not build (see above): starting the API only.\n`);
  }
}

const target = fileURLToPath(new URL(`../dist/${entry}.js`, import.meta.url));
const child = spawn(process.execPath, [target, ...args], { stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => child.kill(signal));
}
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
