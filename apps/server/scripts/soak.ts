/**
 * `pnpm soak [--duration 10m] [--users 40] [--clients 16] [--svg docs/soak.svg]` (or SOAK_DURATION,
 * SOAK_USERS, SOAK_CLIENTS): mixed traffic from many users against the built server on a private
 * Redis and a fresh PostgreSQL database, for 10 minutes by default. Sign-ins (some with a wrong
 * password), reads, touches, re-authentication, a second device, logouts, revocations, password
 * changes, admin reads, and now and then a user who walks away past the idle timeout.
 *
 * The server runs with short timeouts (idle 4 s, absolute 12 s, tombstones 2 s, rate-limit window
 * 5 s) so that everything it writes to Redis expires within the run. It prints, over time,
 * throughput, p99 latency, the server's RSS and the Redis key count; after the traffic it waits for
 * expiry and checks that the key count is back to its baseline (no index leak) and that RSS grew less
 * than 10 % after warm-up (the median of the first third of the samples vs the last third). It
 * writes an SVG plot of those series (default docs/soak.svg). Exit code 0 when every check passed.
 * test/load/soak.test.ts runs it for ~20 s in CI.
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseDuration } from '@tessera/session-core';
import { Redis } from 'ioredis';
import { PASSWORD } from '../test/helpers/defaults.js';
import type { CallResult, HttpClient } from '../test/helpers/http.js';
import { percentile, sleep } from '../test/helpers/load.js';
import { option, startStack } from './lib/stack.js';
import { lineChart } from './lib/svg.js';

export interface SoakOptions {
  durationMs: number;
  users?: number;
  clients?: number;
  /** Where to write the SVG plot; null for none. */
  svgPath?: string | null;
  /** Node flags for the server process (e.g. a small heap, so it reaches its steady state sooner). */
  nodeArgs?: string[];
  log?: (line: string) => void;
}

export interface SoakSample {
  /** Seconds since the traffic started. */
  t: number;
  phase: 'warm-up' | 'traffic' | 'cool-down';
  requestsPerSecond: number;
  p99Ms: number;
  rssMb: number;
  keys: number;
  sessionKeys: number;
}

export interface SoakReport {
  samples: SoakSample[];
  requests: number;
  statuses: Record<string, number>;
  /** Responses outside what the action allows (every 5xx is one), by action and status. */
  unexpected: Record<string, number>;
  throughput: number;
  p50Ms: number;
  p99Ms: number;
  rss: { baselineMb: number; endMb: number; growth: number };
  keys: { baseline: number; peak: number; end: number; backToBaseline: boolean; cooldownS: number };
  passed: boolean;
}

const IDLE_MS = 4_000;
const ABSOLUTE_MS = 12_000;
const TOMBSTONE_MS = 2_000;
const RATE_WINDOW_MS = 5_000;

interface User {
  email: string;
  password: string;
  admin: boolean;
  devices: HttpClient[];
}

/** What each action may answer: 401 when the session already ended (evicted, expired, revoked). */
const ALLOWED: Record<string, number[]> = {
  login: [200],
  'login (wrong password)': [401],
  'auth.me': [200, 401],
  'sessions.list': [200, 401],
  'auth.ping': [200, 401],
  'auth.reauthenticate': [200, 401],
  'auth.logout': [200],
  'sessions.revokeOthers': [200, 401],
  'sessions.revoke': [200, 401, 404],
  'auth.changePassword': [200, 401],
  'admin.listUsers': [200, 401],
};

async function keyCounts(redis: Redis): Promise<{ keys: number; sessionKeys: number }> {
  const keys = await redis.dbsize();
  let sessionKeys = 0;
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', 'tessera:[su]:*', 'COUNT', 1000);
    cursor = next;
    sessionKeys += found.length;
  } while (cursor !== '0');
  return { keys, sessionKeys };
}

const median = (xs: number[]) => percentile(xs, 50);

export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const durationMs = options.durationMs;
  const userCount = options.users ?? 40;
  const clientCount = options.clients ?? 16;
  const sampleEveryMs = Math.min(10_000, Math.max(1_000, Math.round(durationMs / 60)));
  const warmupMs = Math.min(30_000, Math.max(3_000, Math.round(durationMs * 0.15)));

  const stack = await startStack({
    tombstoneTtlMs: TOMBSTONE_MS,
    nodeArgs: options.nodeArgs ?? [],
    env: {
      SESSION_IDLE_TIMEOUT: `${IDLE_MS}ms`,
      SESSION_ABSOLUTE_TIMEOUT: `${ABSOLUTE_MS}ms`,
      SESSION_MAX_PER_USER: '3',
      RATE_LIMIT_WINDOW: `${RATE_WINDOW_MS}ms`,
    },
  });
  const redis = new Redis(stack.redis.url);
  try {
    const users: User[] = [];
    for (let i = 0; i < userCount; i++) {
      const email = `soak-${i}-${Date.now().toString(36)}@example.com`;
      const admin = i % 10 === 0;
      await stack.admin.create(email, { role: admin ? 'admin' : 'user' });
      users.push({
        email,
        password: PASSWORD,
        admin,
        devices: [stack.server.client(), stack.server.client()],
      });
    }
    const baseline = await keyCounts(redis);
    log(
      `soak: ${durationMs / 1000} s of traffic, ${userCount} users, ${clientCount} clients, server pid ${stack.server.pid}; ` +
        `server timeouts: idle ${IDLE_MS / 1000} s, absolute ${ABSOLUTE_MS / 1000} s, tombstones ${TOMBSTONE_MS / 1000} s; ` +
        `Redis keys before: ${baseline.keys}`,
    );
    log('     t  phase       req/s    p99 ms   RSS MB   Redis keys (sessions+indexes)');

    const completed: { end: number; ms: number }[] = [];
    const statuses: Record<string, number> = {};
    const unexpected: Record<string, number> = {};
    let requests = 0;
    const start = performance.now();
    const deadline = start + durationMs;

    const record = (label: string, r: CallResult | null, ms: number) => {
      const status = r?.status ?? 0;
      requests++;
      completed.push({ end: performance.now(), ms });
      statuses[status] = (statuses[status] ?? 0) + 1;
      if (!ALLOWED[label]?.includes(status))
        unexpected[`${label} ${status}`] = (unexpected[`${label} ${status}`] ?? 0) + 1;
    };
    const timed = async (label: string, call: () => Promise<CallResult>) => {
      const t0 = performance.now();
      let r: CallResult | null = null;
      try {
        r = await call();
      } catch {
        r = null;
      }
      record(label, r, performance.now() - t0);
      return r;
    };

    const virtualClient = async (k: number) => {
      const mine = users.filter((_, i) => i % clientCount === k);
      let rand = k * 7919 + 1;
      const random = () => {
        rand = (rand * 48271) % 2147483647;
        return rand / 2147483647;
      };
      for (let n = 0; performance.now() < deadline; n++) {
        const user = mine[n % mine.length]!;
        const device = user.devices[random() < 0.8 ? 0 : 1]!;
        const other = user.devices.find((d) => d !== device)!;
        if (!device.sessionToken) {
          if (random() < 0.04) {
            await timed('login (wrong password)', () =>
              stack.server
                .client()
                .mutation('auth.login', { email: user.email, password: 'not the password' }),
            );
          }
          await timed('login', () =>
            device.mutation('auth.login', { email: user.email, password: user.password }),
          );
        } else {
          const p = random();
          if (p < 0.33) await timed('auth.me', () => device.query('auth.me'));
          else if (p < 0.5) await timed('sessions.list', () => device.query('sessions.list'));
          else if (p < 0.67) await timed('auth.ping', () => device.mutation('auth.ping'));
          else if (p < 0.72)
            await timed('auth.reauthenticate', () =>
              device.mutation('auth.reauthenticate', { password: user.password }),
            );
          else if (p < 0.78) await timed('auth.logout', () => device.mutation('auth.logout'));
          else if (p < 0.8)
            await timed('sessions.revokeOthers', () => device.mutation('sessions.revokeOthers'));
          else if (p < 0.83) {
            if (other.sessionToken) {
              const sessionId = other.sessionToken.slice(0, 26);
              await timed('sessions.revoke', () => device.mutation('sessions.revoke', { sessionId }));
            } else {
              // A second device signs in (the limit of 3 then evicts the least recently active).
              await timed('login', () =>
                other.mutation('auth.login', { email: user.email, password: user.password }),
              );
            }
          } else if (p < 0.84) {
            const next = `soak passphrase ${k}-${n}-${Math.floor(random() * 1e9)}`;
            const r = await timed('auth.changePassword', () =>
              device.mutation('auth.changePassword', { currentPassword: user.password, newPassword: next }),
            );
            if (r?.status === 200) user.password = next;
          } else if (p < 0.88) {
            if (user.admin) await timed('admin.listUsers', () => device.query('admin.listUsers'));
            else await timed('auth.me', () => device.query('auth.me'));
          } else if (p < 0.882) {
            await sleep(IDLE_MS + 300); // walks away: the idle timeout ends the session
          } else await timed('auth.me', () => device.query('auth.me'));
        }
        await sleep(Math.floor(random() * 15));
      }
    };

    const samples: SoakSample[] = [];
    let lastEnd = start;
    const sample = async (phase: SoakSample['phase']) => {
      const now = performance.now();
      const window = completed.filter((c) => c.end > lastEnd && c.end <= now);
      lastEnd = now;
      const counts = await keyCounts(redis);
      const s: SoakSample = {
        t: (now - start) / 1000,
        phase,
        requestsPerSecond: window.length / (sampleEveryMs / 1000),
        p99Ms: percentile(
          window.map((c) => c.ms),
          99,
        ),
        rssMb: (stack.server.rss() ?? 0) / 1024 / 1024,
        ...counts,
      };
      samples.push(s);
      log(
        `${s.t.toFixed(0).padStart(6)}  ${phase.padEnd(10)} ${s.requestsPerSecond.toFixed(0).padStart(6)}  ${s.p99Ms
          .toFixed(1)
          .padStart(
            8,
          )}  ${s.rssMb.toFixed(1).padStart(7)}   ${String(s.keys).padStart(6)} (${s.sessionKeys})`,
      );
    };

    const traffic = Promise.all(Array.from({ length: clientCount }, (_, k) => virtualClient(k)));
    while (performance.now() < deadline) {
      await sleep(Math.min(sampleEveryMs, Math.max(0, deadline - performance.now())));
      await sample(performance.now() - start < warmupMs ? 'warm-up' : 'traffic');
    }
    await traffic;

    // Cool-down: nothing but expiry. Every key must be gone by the furthest deadline it can have:
    // an index lives absolute + tombstone past its newest session; rate-limit counters one window.
    const cooldownStart = performance.now();
    const limit = ABSOLUTE_MS + TOMBSTONE_MS + RATE_WINDOW_MS + 10_000;
    let end = await keyCounts(redis);
    while (end.keys > baseline.keys && performance.now() - cooldownStart < limit) {
      await sleep(1_000);
      lastEnd = performance.now();
      await sample('cool-down');
      end = samples.at(-1)!;
    }
    const cooldownS = (performance.now() - cooldownStart) / 1000;

    // RSS saw-tooths with garbage collection (tens of MB): compare the median of the first third of
    // the samples after warm-up with the median of the last third, not two single readings.
    const traffic_ = samples.filter((s) => s.phase === 'traffic');
    const third = Math.max(1, Math.floor(traffic_.length / 3));
    const baselineMb = median(traffic_.slice(0, third).map((s) => s.rssMb));
    const endMb = median(traffic_.slice(-third).map((s) => s.rssMb));
    const growth = endMb / baselineMb - 1;
    const latencies = completed.map((c) => c.ms);
    const report: SoakReport = {
      samples,
      requests,
      statuses,
      unexpected,
      throughput: requests / (durationMs / 1000),
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      rss: { baselineMb, endMb, growth },
      keys: {
        baseline: baseline.keys,
        peak: Math.max(...samples.map((s) => s.keys)),
        end: end.keys,
        backToBaseline: end.keys <= baseline.keys,
        cooldownS,
      },
      passed: false,
    };
    report.passed =
      Object.keys(unexpected).length === 0 &&
      report.keys.backToBaseline &&
      growth < 0.1 &&
      traffic_.length >= 3;

    log(
      [
        `requests: ${requests} (${report.throughput.toFixed(0)}/s), statuses ${JSON.stringify(statuses)}, ` +
          `p50 ${report.p50Ms.toFixed(1)} ms, p99 ${report.p99Ms.toFixed(1)} ms`,
        `unexpected responses: ${Object.keys(unexpected).length === 0 ? 'none' : JSON.stringify(unexpected)}`,
        `server RSS (median of the first / last third after warm-up): ${baselineMb.toFixed(1)} MB -> ${endMb.toFixed(1)} MB: ` +
          `${growth >= 0 ? '+' : ''}${(growth * 100).toFixed(1)} % (limit +10 %); range ${Math.min(...traffic_.map((s) => s.rssMb)).toFixed(0)}-${Math.max(...traffic_.map((s) => s.rssMb)).toFixed(0)} MB`,
        `Redis keys: ${baseline.keys} before, ${report.keys.peak} at peak, ${end.keys} after ${cooldownS.toFixed(0)} s of cool-down ` +
          `(${report.keys.backToBaseline ? 'back to baseline: no leak' : 'NOT back to baseline'})`,
        `soak ${report.passed ? 'PASSED' : 'FAILED'}`,
      ].join('\n'),
    );

    if (options.svgPath) {
      const trafficEnd = durationMs / 1000;
      const svg = lineChart({
        title: `Tessera soak: ${Math.round(durationMs / 1000)} s of mixed traffic, ${userCount} users, ${clientCount} clients`,
        subtitle:
          `${requests} requests, p99 ${report.p99Ms.toFixed(1)} ms, no 5xx; RSS ${growth >= 0 ? '+' : ''}${(growth * 100).toFixed(1)} % (first vs last third); ` +
          `Redis keys back to ${end.keys} after ${cooldownS.toFixed(0)} s (idle ${IDLE_MS / 1000} s, absolute ${ABSOLUTE_MS / 1000} s)`,
        shade: {
          from: trafficEnd,
          to: Math.max(trafficEnd, samples.at(-1)?.t ?? trafficEnd),
          label: 'cool-down',
        },
        panels: [
          {
            title: 'Throughput',
            unit: 'requests/s',
            color: '#2563eb',
            points: samples.filter((s) => s.phase !== 'cool-down').map((s) => [s.t, s.requestsPerSecond]),
          },
          {
            title: 'Latency p99',
            unit: 'ms',
            color: '#dc2626',
            points: samples.filter((s) => s.phase !== 'cool-down').map((s) => [s.t, s.p99Ms]),
          },
          { title: 'Server RSS', unit: 'MB', color: '#059669', points: samples.map((s) => [s.t, s.rssMb]) },
          { title: 'Redis keys', unit: 'count', color: '#7c3aed', points: samples.map((s) => [s.t, s.keys]) },
        ],
      });
      writeFileSync(options.svgPath, svg);
      log(`plot written to ${options.svgPath}`);
    }
    return report;
  } finally {
    redis.disconnect();
    await stack.stop();
  }
}

async function main() {
  const argv = process.argv.slice(2);
  const durationMs = parseDuration(option(argv, 'duration', process.env.SOAK_DURATION, '10m'), 'duration');
  const users = Number(option(argv, 'users', process.env.SOAK_USERS, '40'));
  const clients = Number(option(argv, 'clients', process.env.SOAK_CLIENTS, '16'));
  const defaultSvg = fileURLToPath(new URL('../../../docs/soak.svg', import.meta.url));
  const svg = option(argv, 'svg', process.env.SOAK_SVG, defaultSvg);
  // Under 5 minutes V8 is still growing its heap toward its default size, which reads as an RSS "leak":
  // short runs give the server the small heap the CI soak uses, so they measure its steady state.
  const shortRunHeap = durationMs < 5 * 60_000 ? '--max-old-space-size=64 --max-semi-space-size=2' : '';
  const nodeArgs = option(argv, 'node-args', process.env.SOAK_NODE_ARGS, shortRunHeap)
    .split(' ')
    .filter(Boolean);
  if (nodeArgs.length > 0) process.stdout.write(`server node flags: ${nodeArgs.join(' ')}\n`);
  const report = await runSoak({
    durationMs,
    users,
    clients,
    nodeArgs,
    svgPath: svg === 'none' ? null : resolve(svg),
  });
  process.exit(report.passed ? 0 : 1);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    process.stderr.write(
      `soak failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  });
}
