/**
 * `--profile`: where the server's CPU goes per request on the tRPC path. Two parts:
 *  1. Logging A/B: the same server with LOG_LEVEL=info (the production default: Fastify logs every
 *     request twice through pino) vs the bench's LOG_LEVEL=warn, interleaved, on auth.ping.
 *  2. `node --cpu-prof` of a server at LOG_LEVEL=info under auth.ping load (authenticated, no
 *     database: the tRPC path plus the session check), summarized over the load window only: time per
 *     area (package), the top functions by self time, and inclusive time of the frames the issue names
 *     (createContext, cookie handling, logging, Request construction, AbortSignal.any, the web-stream
 *     reply), each divided by the requests served in the window.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchOptions } from '../lib/args.js';
import { type CpuProfile, type Frame, shortUrl, summarizeProfile } from '../lib/cpuprofile.js';
import { num, spread } from '../lib/format.js';
import { httpRun } from '../lib/http-load.js';
import { removeTempDir, tempDir } from '../lib/processes.js';
import { step } from '../lib/progress.js';
import type { PhaseResult } from '../lib/results.js';
import { runRounds } from '../lib/scenarios.js';
import type { Stack } from '../lib/stack.js';
import { differenceOf } from '../lib/stats.js';
import { randomAccount, startTessera } from '../lib/tessera.js';
import { tesseraScenarios } from './http.js';

const has = (frame: Frame, part: string) => frame.url.includes(part);

/** The frames the issue asks about, by name or location. */
export const FOCUS: { label: string; match: (f: Frame) => boolean }[] = [
  {
    label: 'tRPC incomingMessageToRequest (Fetch Request from IncomingMessage)',
    match: (f) => f.name === 'incomingMessageToRequest',
  },
  {
    label: 'tRPC resolveResponse (whole tRPC handling, createContext included)',
    match: (f) => f.name === 'resolveResponse',
  },
  {
    label: 'createContext (apps/server context.ts)',
    match: (f) => f.name === 'createContext' && has(f, 'apps/server'),
  },
  { label: 'readCookie (session-core)', match: (f) => f.name === 'readCookie' },
  {
    label: 'session-core, all frames (validate, token parse/hash)',
    match: (f) => has(f, 'packages/session-core/'),
  },
  {
    label: 'ioredis, all frames (EVALSHA encode/parse)',
    match: (f) => /\/(ioredis|redis-parser|denque|standard-as-callback)\//.test(f.url),
  },
  {
    label: 'onSend hook (trpc-plugin.ts: cookies, cache-control)',
    match: (f) => has(f, 'apps/server/dist/http/trpc-plugin'),
  },
  { label: 'serializeCookie', match: (f) => f.name === 'serializeCookie' },
  { label: 'edge guard (guard.ts)', match: (f) => has(f, 'apps/server/dist/http/guard') },
  {
    label: '@fastify/rate-limit (coarse per-IP limit, Redis round trip)',
    match: (f) => has(f, '@fastify/rate-limit'),
  },
  { label: '@fastify/helmet (security headers)', match: (f) => has(f, 'helmet') },
  {
    label: 'pino logging (pino, sonic-boom, serializers)',
    match: (f) => /\/(pino|sonic-boom|pino-std-serializers|fast-redact|@pinojs\/redact)\//.test(f.url),
  },
  { label: 'AbortSignal.any / AbortController', match: (f) => has(f, 'abort_controller') },
  { label: 'undici (Fetch API Request/Response/Headers)', match: (f) => has(f, 'internal/deps/undici') },
  { label: 'web streams (ReadableStream reply)', match: (f) => has(f, 'internal/webstreams') },
  { label: 'fastify reply.send of a Response (sendWebStream)', match: (f) => f.name === 'sendWebStream' },
  { label: 'garbage collector', match: (f) => f.name === '(garbage collector)' },
];

export async function runProfile(stack: Stack, options: BenchOptions): Promise<PhaseResult> {
  // 1. Logging A/B.
  const infoAccount = randomAccount('info');
  const info = await startTessera({
    name: 'tessera-info',
    redisUrl: stack.redis.url,
    accounts: [infoAccount],
    logLevel: 'info',
  });
  let logging: ReturnType<typeof differenceOf>;
  let infoStats: Awaited<ReturnType<typeof runRounds>>;
  try {
    const cookie = await info.login(infoAccount);
    const pick = (list: ReturnType<typeof tesseraScenarios>) => list.filter((s) => s.key.endsWith('.ping'));
    step('logging A/B: LOG_LEVEL=info vs warn on auth.ping');
    infoStats = await runRounds(
      [
        ...pick(tesseraScenarios(stack, 'warn')),
        ...pick(tesseraScenarios({ tessera: info, tesseraCookie: cookie }, 'info')),
      ],
      options,
    );
    logging = differenceOf(infoStats['info.ping']!.cpuUs, infoStats['warn.ping']!.cpuUs);
  } finally {
    await info.stop();
  }

  // 2. CPU profile.
  const dir = tempDir('prof');
  const account = randomAccount('prof');
  const server = await startTessera({
    name: 'tessera-profiled',
    redisUrl: stack.redis.url,
    accounts: [account],
    logLevel: 'info',
    nodeFlags: ['--cpu-prof', `--cpu-prof-dir=${dir}`, '--cpu-prof-interval=100'],
  });
  let run: Awaited<ReturnType<typeof httpRun>>;
  let from: number;
  let to: number;
  try {
    const cookie = await server.login(account);
    const ping = tesseraScenarios({ tessera: server, tesseraCookie: cookie }, 'prof').find(
      (s) => s.key === 'prof.ping',
    )!;
    await httpRun(ping.target, { duration: 1, connections: options.connections, pid: server.pid });
    const seconds = options.quick ? 2 : 5;
    step(`profiling auth.ping for ${seconds} s (--cpu-prof, LOG_LEVEL=info)`);
    from = Number(process.hrtime.bigint() / 1000n);
    run = await httpRun(ping.target, {
      duration: seconds,
      connections: options.connections,
      pid: server.pid,
    });
    to = Number(process.hrtime.bigint() / 1000n);
  } finally {
    await server.stop(15_000);
  }
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error(`no .cpuprofile written in ${dir}`);
  const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile;
  removeTempDir(dir);

  // Both processes read CLOCK_MONOTONIC; fall back to the whole profile if the window caught nothing.
  let summary = summarizeProfile(profile, { from, to });
  const windowed = summary.busyUs > 0.2 * (to - from);
  if (!windowed) summary = summarizeProfile(profile);
  const requests = run.requests;
  const perReq = (us: number) => us / requests;

  const lines: string[] = [];
  lines.push(
    `Profile of auth.ping at LOG_LEVEL=info: ${num(run.rps)} req/s, ${num(run.cpuUs, 0)} us server CPU/request (/proc, all threads, profiler on); ` +
      `main thread sampled busy ${num(perReq(summary.busyUs), 0)} us/request${windowed ? '' : ' (whole profile: window not found)'}`,
  );
  lines.push(
    `Logging: LOG_LEVEL=info costs ${spread(logging, 1, ' us')} of server CPU per request more than warn (A/B, no profiler)`,
  );
  lines.push('', 'By area (self time), us per request:');
  for (const a of summary.byArea.slice(0, 14)) {
    lines.push(
      `  ${num(perReq(a.us), 1).padStart(7)}  ${((a.us / summary.busyUs) * 100).toFixed(1).padStart(5)}%  ${a.area}`,
    );
  }
  lines.push('', 'Named frames (inclusive: the frame and what it calls, synchronous part), us per request:');
  const focus = FOCUS.map((f) => ({ label: f.label, us: summary.inclusive(f.match) }));
  for (const f of focus)
    lines.push(
      `  ${num(perReq(f.us), 1).padStart(7)}  ${((f.us / summary.busyUs) * 100).toFixed(1).padStart(5)}%  ${f.label}`,
    );
  lines.push('', 'Top functions by self time, us per request:');
  for (const f of summary.selfByFunction.slice(0, 20)) {
    lines.push(
      `  ${num(perReq(f.us), 2).padStart(7)}  ${f.frame.name}  ${shortUrl(f.frame.url)}:${f.frame.line}`,
    );
  }
  return {
    rows: [],
    metrics: {
      'profile.logging.infoMinusWarnUs': { unit: 'us/req', summary: logging },
      'profile.info.ping.cpuUs': { unit: 'us/req', summary: infoStats['info.ping']!.cpuUs },
      'profile.warn.ping.cpuUs': { unit: 'us/req', summary: infoStats['warn.ping']!.cpuUs },
    },
    panels: [],
    facts: {
      profile: {
        text: lines,
        requests,
        rps: run.rps,
        cpuUsPerRequest: run.cpuUs,
        windowed,
        byArea: summary.byArea.slice(0, 20).map((a) => ({ area: a.area, usPerRequest: perReq(a.us) })),
        focus: focus.map((f) => ({ label: f.label, usPerRequest: perReq(f.us) })),
        top: summary.selfByFunction.slice(0, 30).map((f) => ({
          name: f.frame.name,
          at: `${shortUrl(f.frame.url)}:${f.frame.line}`,
          usPerRequest: perReq(f.us),
        })),
      },
    },
  };
}
