/** Command-line options of `pnpm bench`. */
import { resolve } from 'node:path';
import { benchRoot } from './paths.js';

export interface BenchOptions {
  quick: boolean;
  cluster: boolean;
  profile: boolean;
  /** Interleaved rounds per comparison. */
  rounds: number;
  /** Seconds per HTTP load run (whole seconds: autocannon stops on its one-second tick). */
  httpSeconds: number;
  /** Seconds per run of the login-storm target (a p99 needs a few hundred requests). */
  stormSeconds: number;
  /** Warm every HTTP scenario up once before the rounds. */
  warmup: boolean;
  /** Seconds per in-process load run. */
  inprocSeconds: number;
  /** HTTP connections. */
  connections: number;
  /** Operations in flight for in-process runs (the 50). */
  inFlight: number;
  /** Sessions in the large Redis of target 5. */
  bigSessions: number;
  /** Hot sessions validated in targets 4, 5 and 8. */
  hotSessions: number;
  /** Sessions created to measure memory (target 6). */
  memorySessions: number;
  /** Targets to run (numbers as in the issue); empty = all. */
  only: Set<number>;
  /** Where the JSON, SVG and Markdown table go. */
  outDir: string;
  /** Server log level for the HTTP runs. */
  serverLogLevel: string;
}

export const USAGE = `Usage: pnpm bench [--quick] [--cluster] [--profile] [--only 1,2,4] [--rounds N]
                  [--http-seconds S] [--inproc-seconds S] [--sessions N] [--out DIR] [--log-level L]

  --quick           CI smoke run (~40 s): 2 rounds, no warm-up, 20,000 sessions instead of 1,000,000
  --cluster         also run validate() and the HTTP server on a local 3-master Redis Cluster
  --profile         also CPU-profile the server under load (node --cpu-prof) and list the top costs
  --only 1,2,4      run only these targets (numbers as in the issue)
  --sessions N      sessions in the large Redis of target 5 (default 1,000,000)
  --out DIR         where latest.json, latest.svg and latest.md go (default packages/bench/results)
  --log-level L     the server's LOG_LEVEL during the runs (default warn; see docs/PERFORMANCE.md)`;

export class UsageError extends Error {}

export function parseArgs(argv: string[]): BenchOptions {
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') continue;
    if (!arg.startsWith('--')) throw new UsageError(`unexpected argument '${arg}'`);
    const eq = arg.indexOf('=');
    if (eq !== -1) {
      flags.set(arg.slice(2, eq), arg.slice(eq + 1));
    } else if (['quick', 'cluster', 'profile', 'help'].includes(arg.slice(2))) {
      flags.set(arg.slice(2), true);
    } else {
      const value = argv[i + 1];
      if (value === undefined) throw new UsageError(`${arg} needs a value`);
      flags.set(arg.slice(2), value);
      i++;
    }
  }
  const known = new Set([
    'quick',
    'cluster',
    'profile',
    'help',
    'only',
    'rounds',
    'http-seconds',
    'inproc-seconds',
    'sessions',
    'out',
    'log-level',
  ]);
  for (const name of flags.keys()) if (!known.has(name)) throw new UsageError(`unknown option --${name}`);
  if (flags.has('help')) throw new UsageError('');

  const quick = flags.get('quick') === true;
  const number = (name: string, fallback: number, min: number): number => {
    const raw = flags.get(name);
    if (raw === undefined) return fallback;
    const n = Number(String(raw).replace(/_/g, ''));
    if (!Number.isFinite(n) || n < min) throw new UsageError(`--${name} must be a number >= ${min}`);
    return n;
  };
  const only = new Set<number>();
  const onlyRaw = flags.get('only');
  if (typeof onlyRaw === 'string') {
    for (const part of onlyRaw.split(',')) {
      const n = Number(part.trim());
      if (!Number.isInteger(n) || n < 1 || n > 9)
        throw new UsageError(`--only takes target numbers 1-9, got '${part}'`);
      only.add(n);
    }
  }
  const out = flags.get('out');
  const logLevel = flags.get('log-level');
  return {
    quick,
    cluster: flags.get('cluster') === true,
    profile: flags.get('profile') === true,
    rounds: Math.round(number('rounds', quick ? 2 : 5, 1)),
    httpSeconds: Math.round(number('http-seconds', 1, 1)),
    stormSeconds: quick ? 1 : 2,
    warmup: !quick,
    inprocSeconds: number('inproc-seconds', quick ? 0.3 : 1, 0.1),
    connections: 32,
    inFlight: 50,
    bigSessions: Math.round(number('sessions', quick ? 20_000 : 1_000_000, 2_000)),
    hotSessions: 1_000,
    memorySessions: quick ? 2_000 : 20_000,
    only,
    outDir: typeof out === 'string' ? resolve(out) : resolve(benchRoot, 'results'),
    serverLogLevel: typeof logLevel === 'string' ? logLevel : 'warn',
  };
}

/** Whether target `n` runs. */
export const wants = (options: BenchOptions, ...targets: number[]): boolean =>
  options.only.size === 0 || targets.some((t) => options.only.has(t));
