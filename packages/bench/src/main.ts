/**
 * `pnpm bench`: starts everything it needs (private redis-servers, the Tessera server in production
 * mode, the express-session peer, a Redis Cluster with --cluster), measures the targets of issue 5 in
 * interleaved rounds, prints a table of medians with min-max and ratios, and writes
 * results/latest.{json,svg,md}. See docs/PERFORMANCE.md for the method.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { type BenchOptions, parseArgs, USAGE, UsageError, wants } from './lib/args.js';
import { repoRoot } from './lib/paths.js';
import { stopAll } from './lib/processes.js';
import { elapsedSeconds, phase, step } from './lib/progress.js';
import { emptyPhase, merge, type PhaseResult } from './lib/results.js';
import { type Stack, startStack } from './lib/stack.js';
import { chartSvg } from './report/svg.js';
import { markdownTable, textTable } from './report/table.js';
import { runClusterTarget } from './targets/cluster.js';
import { runFlatTarget } from './targets/flat.js';
import { runHttpTargets } from './targets/http.js';
import { runMemoryTarget } from './targets/memory.js';
import { runPostgresTarget } from './targets/postgres.js';
import { runProfile } from './targets/profile.js';
import { runSpaTarget } from './targets/spa.js';
import { runStormTarget } from './targets/storm.js';
import { runValidateTarget } from './targets/validate.js';

function quietly(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      cwd: repoRoot,
    }).trim();
  } catch {
    return 'unknown';
  }
}

function machine() {
  const cpu = cpus()[0];
  return {
    cpu: cpu?.model ?? 'unknown',
    cores: availableParallelism(),
    node: process.version,
    redis: quietly('redis-server', ['--version']).replace(/^Redis server v=(\S+).*$/, '$1'),
    commit: quietly('git', ['rev-parse', '--short', 'HEAD']),
    dirty: quietly('git', ['status', '--porcelain']) !== '',
  };
}

async function main(options: BenchOptions): Promise<number> {
  const result = emptyPhase();
  const errors: string[] = [];
  const loadBefore = loadavg();
  const attempt = async (title: string, ids: string[], body: () => Promise<PhaseResult>) => {
    phase(title);
    try {
      merge(result, await body());
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      errors.push(`${title}: ${message}`);
      step(`FAILED: ${message}`);
      for (const id of ids) {
        result.rows.push({
          id,
          target: title,
          tessera: 'error',
          peer: '',
          ratio: '',
          goal: '',
          pass: null,
          note: message.split('\n')[0]!,
        });
      }
    }
  };

  const m = machine();
  process.stderr.write(
    `tessera bench${options.quick ? ' --quick' : ''}${options.cluster ? ' --cluster' : ''}: ${options.rounds} interleaved rounds, ` +
      `${options.httpSeconds} s per HTTP run, ${options.inprocSeconds} s per in-process run; ${m.cores} cores (${m.cpu}), ` +
      `Node ${m.node}, Redis ${m.redis}; load average ${loadBefore.map((l) => l.toFixed(2)).join(' ')}\n`,
  );

  const needsStack = wants(options, 1, 2, 3, 4, 7) || options.cluster || options.profile;
  let stack: Stack | null = null;
  if (needsStack) {
    phase('setup: private Redis, Tessera server (production), peer app');
    stack = await startStack(options);
  }
  try {
    if (stack && wants(options, 1, 2, 3)) {
      const s = stack;
      await attempt(
        '1-3. HTTP: auth.me / auth.ping with a session, health.check and the no-session paths, beside the peer',
        ['1', '2', '3'],
        () => runHttpTargets(s, options),
      );
    }
    if (stack && wants(options, 4)) {
      const s = stack;
      await attempt(`4. validate() at ${options.inFlight} in flight vs EVALSHA vs GET+EXPIRE`, ['4'], () =>
        runValidateTarget(s, options),
      );
    }
    if (wants(options, 5)) {
      await attempt(
        `5. flat cost: ${options.bigSessions.toLocaleString('en-US')} sessions vs ${options.hotSessions.toLocaleString('en-US')}`,
        ['5'],
        () => runFlatTarget(options),
      );
    }
    if (wants(options, 6))
      await attempt('6. Redis memory per session', ['6'], () => runMemoryTarget(options));
    if (stack && wants(options, 7)) {
      const s = stack;
      await attempt('7. login storm', ['7'], () => runStormTarget(s, options));
    }
    if (wants(options, 8)) await attempt('8. PostgreSQL store', ['8'], () => runPostgresTarget(options));
    if (wants(options, 9)) await attempt('9. SPA initial JS', ['9'], () => runSpaTarget());
    if (stack && options.cluster) {
      const s = stack;
      await attempt('Scale out: Redis Cluster vs single node', ['C1'], () => runClusterTarget(s, options));
    }
    if (stack && options.profile) {
      const s = stack;
      await attempt('Profile: server CPU per request on the tRPC path', [], () => runProfile(s, options));
    }
  } finally {
    phase('stopping');
    await stack?.stop();
    await stopAll();
  }

  const order = (id: string) => {
    const n = Number.parseInt(id, 10);
    return Number.isNaN(n) ? (id === 'ref' ? 1.5 : 100) : n;
  };
  const rows = [...result.rows].sort((a, b) => order(a.id) - order(b.id));
  const loadAfter = loadavg();
  const seconds = elapsedSeconds();

  const table = textTable(rows);
  process.stdout.write(`\n${table}\n`);
  const profileText = (result.facts?.profile as { text?: string[] } | undefined)?.text;
  if (profileText) process.stdout.write(`\n${profileText.join('\n')}\n`);
  const passed = rows.filter((r) => r.pass === true).length;
  const failed = rows.filter((r) => r.pass === false).length;
  const noisy = Math.max(...loadBefore.slice(0, 1), ...loadAfter.slice(0, 1)) > m.cores * 0.5;
  process.stdout.write(
    `\n${passed} pass, ${failed} fail, ${rows.filter((r) => r.pass === null).length} reported; ${seconds.toFixed(0)} s; Node ${m.node}; ` +
      `load average ${loadBefore[0]!.toFixed(2)} before, ${loadAfter[0]!.toFixed(2)} after` +
      `${noisy ? ' (other work was running on this machine: expect noise)' : ''}\n`,
  );

  mkdirSync(options.outDir, { recursive: true });
  const stamp = new Date().toISOString();
  const subtitle = `medians of ${options.rounds} interleaved rounds, whiskers min-max; ${m.cores} cores, Node ${m.node}, Redis ${m.redis}`;
  const json = {
    date: stamp,
    machine: { ...m, loadBefore, loadAfter },
    options: { ...options, only: [...options.only] },
    seconds,
    rows,
    metrics: result.metrics,
    facts: result.facts ?? {},
    errors,
  };
  writeFileSync(join(options.outDir, 'latest.json'), `${JSON.stringify(json, null, 2)}\n`);
  writeFileSync(join(options.outDir, 'latest.svg'), chartSvg(result.panels, subtitle));
  writeFileSync(
    join(options.outDir, 'latest.md'),
    `<!-- pnpm bench${options.quick ? ' --quick' : ''}, ${stamp}, commit ${m.commit}${m.dirty ? ' (dirty)' : ''}, Node ${m.node} -->\n${markdownTable(rows)}\n`,
  );
  process.stdout.write(`wrote ${join(options.outDir, 'latest.json')}, latest.svg, latest.md\n`);
  if (errors.length) {
    process.stderr.write(`\n${errors.length} phase(s) failed:\n${errors.map((e) => `  ${e}`).join('\n')}\n`);
    return 1;
  }
  return 0;
}

let options: BenchOptions;
try {
  options = parseArgs(process.argv.slice(2));
} catch (error) {
  if (error instanceof UsageError) {
    if (error.message) process.stderr.write(`${error.message}\n\n`);
    process.stderr.write(`${USAGE}\n`);
    process.exit(error.message ? 2 : 0);
  }
  throw error;
}
main(options).then(
  (code) => process.exit(code),
  async (error: unknown) => {
    process.stderr.write(
      `bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    await stopAll();
    process.exit(1);
  },
);
