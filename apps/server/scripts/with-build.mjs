#!/usr/bin/env node
// `pnpm start` / `pnpm cli` from the repository root: build the server and what it depends on (turbo,
// cached), quietly unless the build fails, then run dist/<entry>.js with the remaining arguments,
// forwarding signals so Ctrl-C and `kill` stop the server cleanly. For `main` it also builds the web
// app when it exists, so the one process serves the SPA too; if that build fails the API still starts.
//
// When nothing changed since the last build this script started, it starts no build at all: even a
// turbo cache hit costs a process and a hash of every input, which a CLI call should not pay each
// time. "Nothing changed" means: the files of the package and of the workspace packages it depends
// on (turbo's `<name>...`), and the root manifests, are as many as then and none changed since that
// build started (the stamp in node_modules/.cache/tessera/), and every package that builds has its
// dist. "Changed" is the file's ctime, which the system sets on every write, rename or copy and which
// no tool can set back (an mtime can be: cp -p, tar, rsync -a). When in doubt it builds.
//   node apps/server/scripts/with-build.mjs main|cli [args...]
import { spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const [entry, ...args] = process.argv.slice(2);
if (entry !== 'main' && entry !== 'cli') {
  process.stderr.write('usage: with-build.mjs main|cli [args...]\n');
  process.exit(2);
}

const root = fileURLToPath(new URL('../../../', import.meta.url));
// The repository's own turbo, also when this script is run with plain `node` rather than through pnpm.
const bin = join(root, 'node_modules', '.bin');
const env = {
  ...process.env,
  PATH: `${bin}${delimiter}${process.env.PATH ?? ''}`,
  TURBO_TELEMETRY_DISABLED: '1',
  TURBO_NO_UPDATE_NOTIFIER: '1',
};

// -- is the last build still current? ----------------------------------------------------------------

/** What turbo hashes besides the packages' files, and what a package never reads (the .gitignore). */
const ROOT_INPUTS = ['package.json', 'pnpm-lock.yaml', 'pnpm-workspace.yaml', 'turbo.json'];
const SKIPPED = new Set(['node_modules', 'dist', '.turbo', '.data', 'coverage', '.env']);
/** turbo.json's globalEnv: a build made under other values is another build. */
const buildEnv = () => ({ NODE_ENV: process.env.NODE_ENV ?? null, CI: process.env.CI ?? null });

const readJson = (path) => {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return null;
  }
};

/** Workspace packages by name, from pnpm-workspace.yaml's `dir/*` entries; null when it says more. */
function workspacePackages() {
  let yaml;
  try {
    yaml = readFileSync(join(root, 'pnpm-workspace.yaml'), 'utf8');
  } catch {
    return null;
  }
  const block = /^packages:\n((?:[ \t]+-.*\n?)+)/m.exec(yaml)?.[1] ?? '';
  const globs = [...block.matchAll(/-\s*['"]?([^'"\s#]+)/g)].map((m) => m[1]);
  if (globs.length === 0 || globs.some((g) => !/^[\w.-]+\/\*$/.test(g))) return null;
  const packages = new Map();
  for (const glob of globs) {
    const parent = join(root, glob.slice(0, -2));
    if (!existsSync(parent)) continue;
    for (const name of readdirSync(parent)) {
      const manifest = readJson(join(parent, name, 'package.json'));
      if (manifest?.name) packages.set(manifest.name, { dir: join(parent, name), manifest });
    }
  }
  return packages;
}

/** The package and every workspace package it depends on, through any kind of dependency. */
function withDependencies(packages, name) {
  const found = new Map();
  const visit = (n) => {
    const pkg = packages.get(n);
    if (!pkg || found.has(n)) return;
    found.set(n, pkg);
    const { dependencies, devDependencies, peerDependencies, optionalDependencies } = pkg.manifest;
    for (const deps of [dependencies, devDependencies, peerDependencies, optionalDependencies]) {
      for (const dep of Object.keys(deps ?? {})) visit(dep);
    }
  };
  visit(name);
  return [...found.values()];
}

/** Counts the files under `dir` (outputs and ignored files aside) into `seen`, with the latest ctime. */
function walk(dir, seen) {
  for (const item of readdirSync(dir, { withFileTypes: true })) {
    if (SKIPPED.has(item.name) || item.name.endsWith('.tsbuildinfo')) continue;
    const path = join(dir, item.name);
    if (item.isDirectory()) {
      walk(path, seen);
    } else {
      seen.files++;
      seen.latest = Math.max(seen.latest, statSync(path).ctimeMs);
    }
  }
}

/**
 * The inputs of `target`'s build as they are now: how many files, their latest ctime, and whether
 * every package that builds has its dist. Null when they can't be told (a package not found, a file
 * gone while we looked): then build.
 */
function inputs(target) {
  const packages = workspacePackages();
  if (!packages?.has(target)) return null;
  const seen = { files: 0, latest: 0, built: true };
  try {
    for (const file of ROOT_INPUTS) {
      if (!existsSync(join(root, file))) continue;
      seen.files++;
      seen.latest = Math.max(seen.latest, statSync(join(root, file)).ctimeMs);
    }
    for (const { dir, manifest } of withDependencies(packages, target)) {
      if (manifest.scripts?.build && !existsSync(join(dir, 'dist'))) seen.built = false;
      walk(dir, seen);
    }
  } catch {
    return null;
  }
  return seen;
}

const stampPath = (target) =>
  join(root, 'node_modules', '.cache', 'tessera', `build-${target.replace(/[^\w.-]+/g, '_')}.json`);

function recordBuild(target, stamp) {
  const path = stampPath(target);
  try {
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(`${path}.${process.pid}`, `${JSON.stringify(stamp)}\n`);
    renameSync(`${path}.${process.pid}`, path);
  } catch {
    // Only a cache: the next run builds (turbo, cached) instead of skipping.
  }
}

// -- build what changed, then run ------------------------------------------------------------------

const report = (r) => `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? `${r.error.message}\n` : ''}`;

/**
 * Builds `target` and its dependencies unless the last build is current and left `output`; the turbo
 * result, or null when nothing was built.
 */
function build(target, filter, output) {
  const startedAt = Date.now();
  const now = inputs(target);
  const last = readJson(stampPath(target));
  const current =
    now?.built === true &&
    last?.files === now.files &&
    now.latest < last.startedAt &&
    JSON.stringify(last.env) === JSON.stringify(buildEnv()) &&
    existsSync(output);
  if (current) return null;
  process.stderr.write(`Building ${target} (first run, or its sources changed)...\n`);
  const result = spawnSync('turbo', ['run', 'build', `--filter=${filter}`, '--output-logs=errors-only'], {
    env,
    encoding: 'utf8',
    shell: process.platform === 'win32',
  });
  // The inputs as counted before the build: a file added, changed or removed meanwhile shows next time.
  if (result.status === 0 && now) recordBuild(target, { startedAt, files: now.files, env: buildEnv() });
  return result;
}

const entryFile = fileURLToPath(new URL(`../dist/${entry}.js`, import.meta.url));
const server = build('@tessera/server', '@tessera/server...', entryFile);
if (server && server.status !== 0) {
  process.stderr.write(`${report(server)}Build failed: see above.\n`);
  process.exit(server.status ?? 1);
}
if (entry === 'main' && existsSync(join(root, 'apps', 'web', 'package.json'))) {
  const web = build('@tessera/web', '@tessera/web', join(root, 'apps', 'web', 'dist', 'index.html'));
  if (web && web.status !== 0) {
    process.stderr.write(`${report(web)}The web app did not build (see above): starting the API only.\n`);
  }
}

const child = spawn(process.execPath, [entryFile, ...args], { stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => child.kill(signal));
}
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
