#!/usr/bin/env node
// Runs the examples the way an outside team would use them, and fails if any of them fails:
//  1. packs @tessera/session-core (`pnpm --filter @tessera/session-core pack`, which builds on pack);
//  2. copies each example to a temp folder and installs it with plain npm from that tarball (no
//     workspace link: a packaging bug shows up here as it would for them);
//  3. runs its test: hono and express twice, on PGlite and on a private redis-server; node-client
//     against a real `pnpm start` (free port, temp DATA_DIR, COOKIE_SECURE=false, APP_ORIGIN set) with
//     an account made by `pnpm cli users create`.
//   node examples/run.mjs [hono] [express] [node-client]      (default: all; `pnpm test:examples`)
// Ends with "examples: N passed, M failed" (the node:test counts of every run).
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('..', import.meta.url));
const examples = fileURLToPath(new URL('.', import.meta.url));
const ALL = ['hono', 'express', 'node-client'];
const chosen = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ALL;
for (const name of chosen) {
  if (!ALL.includes(name)) {
    process.stderr.write(`unknown example '${name}' (${ALL.join(', ')})\n`);
    process.exit(2);
  }
}

const STEP_TIMEOUT_MS = 10 * 60_000;
const work = mkdtempSync(join(tmpdir(), 'tessera-examples-'));
const cleanups = [];
const timings = [];
const totals = { passed: 0, failed: 0 };
const failures = [];

/** Stops the run: main's catch stops what it started in the background, then exits 1. */
class Failure extends Error {}
function fail(message) {
  throw new Failure(message);
}

/** Runs a command, echoing its output; resolves to { code, output }. */
function run(command, args, { cwd, env = process.env, quiet = false } = {}) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const onData = (chunk) => {
      output += chunk;
      if (!quiet) process.stdout.write(chunk);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const timer = setTimeout(() => {
      output += `\n(killed after ${STEP_TIMEOUT_MS / 60_000} minutes)\n`;
      child.kill('SIGKILL');
    }, STEP_TIMEOUT_MS);
    child.on('error', (error) => {
      output += `${error.message}\n`;
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, output });
    });
  });
}

async function step(label, command, args, options = {}) {
  process.stdout.write(`\n==> ${label}: ${command} ${args.join(' ')}\n`);
  const started = Date.now();
  const result = await run(command, args, options);
  timings.push([label, Date.now() - started]);
  if (result.code !== 0) {
    if (options.quiet) process.stdout.write(result.output);
    fail(`${label} failed (exit ${result.code}): see the output above`);
  }
  return result;
}

/** Runs an example's `npm test`, counting node:test's results; a failure is reported at the end. */
async function test(label, cwd, env) {
  process.stdout.write(`\n==> ${label}: npm test\n`);
  const started = Date.now();
  const { code, output } = await run('npm', ['test'], { cwd, env });
  timings.push([label, Date.now() - started]);
  const count = (word) => Number(output.match(new RegExp(`^ℹ ${word} (\\d+)$`, 'm'))?.[1] ?? 0);
  const passed = count('pass');
  const failed = count('fail') + (code !== 0 && count('fail') === 0 ? 1 : 0);
  totals.passed += passed;
  totals.failed += failed;
  if (code !== 0 || passed === 0)
    failures.push(`${label} (exit ${code}, ${passed} passed, ${failed} failed)`);
}

const freePort = () =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });

async function waitFor(url, child, log, timeoutMs = 300_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}:\n${log()}`);
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`no answer from ${url} after ${timeoutMs / 1000} s:\n${log()}`);
}

/** Starts a process in its own process group, stopped (group-wide) at the end. */
function background(command, args, options) {
  const child = spawn(command, args, { ...options, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout.on('data', (chunk) => {
    log += chunk;
  });
  child.stderr.on('data', (chunk) => {
    log += chunk;
  });
  const stop = () =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const forced = setTimeout(() => process.kill(-child.pid, 'SIGKILL'), 10_000);
      child.once('exit', () => {
        clearTimeout(forced);
        resolve();
      });
      process.kill(-child.pid, 'SIGTERM');
    });
  stop.now = () => {
    if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid, 'SIGKILL');
  };
  cleanups.push(stop);
  return { child, log: () => log.slice(-4000), stop };
}

/** A copy of examples/<name> without installed or generated files. */
function copyExample(name) {
  const to = join(work, name);
  cpSync(join(examples, name), to, {
    recursive: true,
    filter: (src) => !/[\\/](node_modules|\.data|tessera-api)([\\/]|$)/.test(src.slice(examples.length)),
  });
  return to;
}

const npmInstall = (label, cwd, extra = []) =>
  step(`${label}: install`, 'npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', ...extra], {
    cwd,
    quiet: true,
  });

function testEnv(extra) {
  const env = { ...process.env, ...extra };
  for (const [key, value] of Object.entries(extra)) if (value === undefined) delete env[key];
  return env;
}

async function main() {
  const started = Date.now();
  process.on('exit', () => rmSync(work, { recursive: true, force: true }));

  // 1. The tarball, built on pack (older checkouts without a prepack script: build first).
  const manifest = JSON.parse(readFileSync(join(repo, 'packages/session-core/package.json'), 'utf8'));
  if (!manifest.scripts?.prepack) {
    await step('session-core: build', 'pnpm', ['--filter', '@tessera/session-core', 'build'], { cwd: repo });
  }
  const packs = join(work, 'packs');
  mkdirSync(packs);
  await step(
    'session-core: pack',
    'pnpm',
    ['--filter', '@tessera/session-core', 'pack', '--pack-destination', packs],
    {
      cwd: repo,
      quiet: true,
    },
  );
  const tarball = readdirSync(packs).find((f) => f.endsWith('.tgz'));
  if (!tarball) fail(`pnpm pack left no tarball in ${packs}`);
  const tgz = join(packs, tarball);
  process.stdout.write(`packed ${tarball}\n`);

  // 2. The apps: PGlite, then Redis on a private server.
  const apps = chosen.filter((name) => name !== 'node-client');
  let redisUrl;
  if (apps.length > 0) {
    if (spawnSync('redis-server', ['--version']).status !== 0) {
      fail('redis-server is missing (apt-get install -y redis-server): the examples also run on Redis');
    }
    const port = await freePort();
    const dir = join(work, 'redis');
    mkdirSync(dir);
    const redis = background(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
      { cwd: dir },
    );
    redisUrl = `redis://127.0.0.1:${port}`;
    for (let i = 0; i < 100 && spawnSync('redis-cli', ['-p', String(port), 'ping']).status !== 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    if (redis.child.exitCode !== null) fail(`redis-server did not start:\n${redis.log()}`);
  }
  for (const name of apps) {
    const dir = copyExample(name);
    await npmInstall(name, dir, [tgz]);
    await test(`${name} (pglite)`, dir, testEnv({ REDIS_URL: undefined }));
    await test(`${name} (redis)`, dir, testEnv({ REDIS_URL: redisUrl }));
  }

  // 3. The tRPC client against `pnpm start`.
  if (chosen.includes('node-client')) {
    const dir = copyExample('node-client');
    await step('node-client: API types', 'node', ['scripts/api-types.mjs', repo], { cwd: dir, quiet: true });
    await npmInstall('node-client', dir);
    const port = await freePort();
    const origin = `http://127.0.0.1:${port}`;
    const email = 'service@example.com';
    const password = `examples-${randomBytes(12).toString('base64url')}`;
    const server = {
      ...process.env,
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: String(port),
      APP_ORIGIN: origin,
      DATA_DIR: join(work, 'tessera-data'),
      COOKIE_SECURE: 'false',
      LOG_LEVEL: 'warn',
    };
    for (const key of ['REDIS_URL', 'REDIS_CLUSTER_NODES', 'DATABASE_URL']) delete server[key];
    // Before the server starts: the embedded database takes one process at a time.
    await step(
      'node-client: account',
      'pnpm',
      ['cli', 'users', 'create', '--email', email, '--password', password],
      {
        cwd: repo,
        env: server,
        quiet: true,
      },
    );
    const startedAt = Date.now();
    const tessera = background('pnpm', ['start'], { cwd: repo, env: server });
    try {
      await waitFor(`${origin}/trpc/health.check`, tessera.child, tessera.log);
    } catch (error) {
      fail(`pnpm start: ${error.message}`);
    }
    timings.push(['node-client: pnpm start until it answers', Date.now() - startedAt]);
    const before = failures.length;
    await test(
      'node-client (pnpm start)',
      dir,
      testEnv({
        TESSERA_URL: origin,
        TESSERA_ORIGIN: origin,
        TESSERA_EMAIL: email,
        TESSERA_PASSWORD: password,
      }),
    );
    if (failures.length > before)
      process.stdout.write(`\nthe server's log (last lines):\n${tessera.log()}\n`);
    await tessera.stop();
  }

  for (const stop of cleanups) await stop();
  process.stdout.write('\nexamples: timings\n');
  for (const [label, ms] of timings)
    process.stdout.write(`  ${(ms / 1000).toFixed(1).padStart(6)} s  ${label}\n`);
  process.stdout.write(`  ${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s  in all\n`);
  for (const failure of failures) process.stdout.write(`FAILED: ${failure}\n`);
  process.stdout.write(`examples: ${totals.passed} passed, ${totals.failed} failed\n`);
  process.exitCode = failures.length > 0 ? 1 : 0;
}

// Ctrl-C or a CI timeout: no orphaned redis-server or Tessera server.
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    for (const stop of cleanups) stop.now();
    process.exit(1);
  });
}

main().catch(async (error) => {
  for (const stop of cleanups) await stop().catch(() => {});
  process.stderr.write(`\nexamples: ${error instanceof Failure ? error.message : (error.stack ?? error)}\n`);
  process.exit(1);
});
