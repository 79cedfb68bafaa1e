/**
 * @tessera/session-core as an outside team gets it. Packs the package (its prepack builds), checks the
 * tarball (publint, @arethetypeswrong/cli, LICENSE, source maps that resolve), then for the lowest and
 * the newest version of each driver its peer ranges claim: installs the tarball with plain npm into a
 * scratch ESM project, typechecks the consumer files there with tsc against the installed .d.ts
 * (skipLibCheck off, so a broken declaration fails) and runs the exported contract suite under
 * node:test against Redis, PostgreSQL and PGlite.
 *
 *   node consumer/check.mjs [--only lowest|newest] [--keep]
 *
 * Needs Redis (REDIS_URL, default redis://127.0.0.1:6379; keys under a unique prefix, deleted after),
 * PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres, allowed to create a
 * database, dropped after) and the npm registry or npm's cache.
 */
import { spawn } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { drivers } from './drivers.mjs';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const fixtureDir = fileURLToPath(new URL('fixture/', import.meta.url));
const manifest = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8'));
const requireHere = createRequire(join(packageDir, 'package.json'));
const versionOf = (name) =>
  JSON.parse(readFileSync(requireHere.resolve(`${name}/package.json`), 'utf8')).version;

const { values: flags } = parseArgs({
  options: { only: { type: 'string' }, keep: { type: 'boolean', default: false } },
});
const sets = flags.only ? [flags.only] : Object.keys(drivers);
for (const set of sets) {
  if (!drivers[set]) {
    console.error(`--only ${set}: expected one of ${Object.keys(drivers).join(', ')}`);
    process.exit(2);
  }
}

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const databaseUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const timings = [];
const started = performance.now();
const work = mkdtempSync(join(tmpdir(), 'tessera-consumer-'));

try {
  await step('peer ranges match the tested driver versions', checkPeerRanges);
  await step('services answer', checkServices);
  const tarball = await step('pack (prepack builds)', pack);
  await step('tarball contents: LICENSE, dist, source maps and doc links that resolve', () =>
    checkContents(tarball),
  );
  await step('publint --strict', () =>
    run('pnpm', ['exec', 'publint', 'run', tarball, '--strict'], packageDir),
  );
  await step('attw --profile esm-only', () =>
    run('pnpm', ['exec', 'attw', tarball, '--profile', 'esm-only'], packageDir),
  );
  for (const set of sets) await consumer(set, tarball);
  const total = ((performance.now() - started) / 1000).toFixed(1);
  console.log(`\nconsumer check passed in ${total} s`);
  for (const [name, seconds] of timings) console.log(`  ${seconds.padStart(6)} s  ${name}`);
} catch (error) {
  fail(error instanceof Error ? error.message : String(error));
} finally {
  if (flags.keep) console.log(`kept ${work}`);
  else rmSync(work, { recursive: true, force: true });
}

/** A range claims only what this check runs: its floor is `lowest`, `newest` sits under its ceiling. */
function checkPeerRanges() {
  const peers = manifest.peerDependencies ?? {};
  for (const set of Object.keys(drivers)) {
    const named = Object.keys(drivers[set]).sort().join(', ');
    if (named !== Object.keys(peers).sort().join(', '))
      throw new Error(`drivers.mjs "${set}" names ${named}; package.json peers are ${Object.keys(peers)}`);
  }
  for (const [name, range] of Object.entries(peers)) {
    const match = /^>=(\d+\.\d+\.\d+) <(\d+(?:\.\d+){0,2})$/.exec(range);
    if (!match) throw new Error(`peerDependencies["${name}"] is "${range}": write it as ">=x.y.z <ceiling"`);
    const [, floor, ceiling] = match;
    if (floor !== drivers.lowest[name])
      throw new Error(
        `peerDependencies["${name}"] starts at ${floor}, the check tests ${drivers.lowest[name]}`,
      );
    if (compare(drivers.newest[name], ceiling) >= 0)
      throw new Error(
        `${name}@${drivers.newest[name]} is outside "${range}": widen the range or test another`,
      );
  }
}

function compare(a, b) {
  const [x, y] = [a, b].map((v) => `${v}.0.0`.split('.').slice(0, 3).map(Number));
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i] - y[i];
  return 0;
}

/** Fails in a second with what to do, instead of after the installs. */
async function checkServices() {
  const redis = new URL(redisUrl);
  const postgres = new URL(databaseUrl);
  await reachable(
    redis.hostname,
    Number(redis.port || 6379),
    `Redis is not answering at ${redisUrl}: start redis-server (apt-get install -y redis-server; ` +
      'redis-server --daemonize yes --port 6379) or `docker compose up -d redis`, or set REDIS_URL',
  );
  await reachable(
    postgres.hostname,
    Number(postgres.port || 5432),
    `PostgreSQL is not answering at ${databaseUrl}: start it (apt-get install -y postgresql) or ` +
      '`docker compose up -d postgres`, or set DATABASE_URL to a server where the user may create databases',
  );
}

function reachable(host, port, message) {
  return new Promise((done, reject) => {
    const socket = connect({ host, port, timeout: 2_000 });
    socket.once('connect', () => {
      socket.end();
      done();
    });
    socket.once('timeout', () => socket.destroy(new Error('timed out')));
    socket.once('error', (error) => reject(new Error(`${message} (${error.message})`)));
  });
}

/** `pnpm pack` turns workspace: and catalog: specifiers into versions, as `pnpm publish` will. */
async function pack() {
  const into = join(work, 'pack');
  await run('pnpm', ['pack', '--pack-destination', into], packageDir, { quiet: true });
  const [file] = readdirSync(into).filter((f) => f.endsWith('.tgz'));
  if (!file) throw new Error(`pnpm pack wrote no tarball into ${into}`);
  return join(into, file);
}

async function checkContents(tarball) {
  const into = join(work, 'contents');
  mkdirSync(into);
  await run('tar', ['-xzf', tarball, '-C', into], work);
  const root = join(into, 'package');
  const shipped = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  for (const file of ['LICENSE', 'README.md', 'CHANGELOG.md', 'dist/index.js', 'dist/index.d.ts']) {
    if (!existsSync(join(root, file))) throw new Error(`the tarball has no ${file}`);
  }
  for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies']) {
    for (const [name, spec] of Object.entries(shipped[field] ?? {})) {
      if (/^(workspace|catalog):/.test(spec)) throw new Error(`${field}["${name}"] ships as "${spec}"`);
    }
  }
  // Stack traces (--enable-source-maps) and go-to-definition follow these: every source must ship.
  let maps = 0;
  for (const map of walk(join(root, 'dist')).filter((f) => f.endsWith('.map'))) {
    maps++;
    const { sources, sourceRoot = '' } = JSON.parse(readFileSync(map, 'utf8'));
    for (const source of sources) {
      const target = resolve(dirname(map), sourceRoot, source);
      if (!target.startsWith(root) || !existsSync(target)) {
        throw new Error(`${relative(root, map)} points at ${source}, which the tarball lacks`);
      }
    }
  }
  // The README and guides are read inside node_modules: a relative link into the package must land
  // in the tarball (else `files` is missing something). A link out of the package (to the repository's
  // examples) can't: it is listed, to be made absolute once the package has a public repository.
  const outside = [];
  for (const doc of walk(root).filter((f) => f.endsWith('.md'))) {
    const text = readFileSync(doc, 'utf8');
    for (const [, target] of text.matchAll(/\]\((?!https?:|mailto:|#)([^)\s]+)\)/g)) {
      const path = resolve(dirname(doc), target.replace(/#.*$/, ''));
      if (!path.startsWith(`${root}/`)) outside.push(`${relative(root, doc)} -> ${target}`);
      else if (!existsSync(path)) throw new Error(`${relative(root, doc)} links to ${target}, not shipped`);
    }
  }
  console.log(`${shipped.name}@${shipped.version}: ${maps} source maps and every in-package link resolve`);
  if (outside.length > 0) console.log(`note: links that leave the package:\n  ${outside.join('\n  ')}`);
}

function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? walk(join(dir, entry.name)) : [join(dir, entry.name)],
  );
}

/** A scratch npm project: the tarball, one driver set, the consumer files; tsc, then node:test. */
async function consumer(set, tarball) {
  const dir = join(work, set);
  const wanted = drivers[set];
  await step(`${set}: npm install the tarball + ${specs(wanted).join(' ')}`, async () => {
    mkdirSync(dir);
    cpSync(fixtureDir, dir, { recursive: true });
    const pkg = { name: `tessera-consumer-${set}`, private: true, type: 'module' };
    writeFileSync(join(dir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
    // The same @types the package is developed against, so only the drivers vary between sets.
    const types = ['@types/node', '@types/pg'].map((name) => `${name}@${versionOf(name)}`);
    const npmFlags = ['--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'];
    await run('npm', ['install', ...npmFlags, tarball, ...specs(wanted), ...types], dir);
    for (const [name, version] of Object.entries(wanted)) {
      const got = JSON.parse(readFileSync(join(dir, 'node_modules', name, 'package.json'), 'utf8')).version;
      if (got !== version) throw new Error(`${set}: npm installed ${name}@${got}, wanted ${version}`);
    }
  });
  await step(`${set}: tsc ${versionOf('typescript')} against the installed types`, () => typecheck(dir));
  await step(`${set}: contract suite under node:test (redis, postgres, pglite)`, () => {
    const tests = readdirSync(join(dir, 'out')).filter((f) => f.endsWith('.test.js'));
    const env = { ...process.env, REDIS_URL: redisUrl, DATABASE_URL: databaseUrl };
    const args = ['--test', '--test-reporter=spec', '--test-timeout=180000', ...tests.map((f) => `out/${f}`)];
    return run(process.execPath, args, dir, { env });
  });
}

/**
 * skipLibCheck is off, so tsc reads every declaration file: ours must compile, and so must the
 * consumer files. Errors inside a driver's own declarations are that driver's (a consumer with
 * skipLibCheck on never sees them): reported, not failed on.
 */
async function typecheck(dir) {
  const tsc = requireHere.resolve('typescript/bin/tsc');
  const output = await run(process.execPath, [tsc, '-p', dir, '--pretty', 'false'], dir, {
    quiet: true,
    allowFailure: true,
  });
  const errors = output.split('\n').filter((line) => /error TS\d+/.test(line));
  const foreign = errors.filter((line) => /^node_modules\/(?!@tessera\/session-core\/)/.test(line));
  const ours = errors.filter((line) => !foreign.includes(line));
  if (foreign.length > 0) {
    const packages = new Set(foreign.map((line) => /^node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(line)?.[1]));
    console.log(
      `note: ${foreign.length} errors inside the declarations of ${[...packages].join(', ')} (not ours)`,
    );
  }
  if (ours.length > 0) {
    console.log(
      output
        .split('\n')
        .filter((line) => !foreign.includes(line))
        .join('\n'),
    );
    throw new Error(
      `tsc: ${ours.length} errors in the consumer files or @tessera/session-core's declarations`,
    );
  }
  if (!existsSync(join(dir, 'out'))) throw new Error(`tsc emitted nothing:\n${output}`);
}

function specs(set) {
  return Object.entries(set).map(([name, version]) => `${name}@${version}`);
}

async function step(name, fn) {
  console.log(`\n==> ${name}`);
  const t = performance.now();
  const result = await fn();
  timings.push([name, ((performance.now() - t) / 1000).toFixed(1)]);
  return result;
}

/** Runs a command; a hung install or test run is killed after `timeoutMs` so CI never waits forever. */
function run(
  command,
  args,
  cwd,
  { env = process.env, quiet = false, allowFailure = false, timeoutMs = 5 * 60_000 } = {},
) {
  return new Promise((done, reject) => {
    const child = spawn(command, args, {
      cwd,
      env,
      stdio: quiet ? ['ignore', 'pipe', 'inherit'] : 'inherit',
    });
    let output = '';
    child.stdout?.on('data', (chunk) => {
      output += chunk;
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0 || (allowFailure && code !== null)) done(output);
      else {
        if (quiet) process.stdout.write(output);
        const why = timedOut ? `timed out after ${timeoutMs / 1000} s` : (signal ?? `exit ${code}`);
        reject(new Error(`${command} ${args.join(' ')} (in ${cwd}) failed: ${why}`));
      }
    });
  });
}

function fail(message) {
  console.error(`\nconsumer check FAILED: ${message}`);
  process.exitCode = 1;
}
