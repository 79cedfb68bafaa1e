/**
 * Target 7: authenticated request latency during a login storm. auth.me runs at a fixed rate (a
 * quarter of what the server sustains, so latency is not queueing at saturation) while, in alternate
 * rounds, one login loop per CPU core signs the storm account in back to back: argon2id at OWASP cost
 * runs as fast as the machine lets it. p99 with the storm vs p99 idle, plus the server's event-loop
 * delay (perf_hooks, read through the preloaded probe): hashing off the event loop should leave the
 * loop itself calm, whatever the cores are doing.
 */
import { availableParallelism } from 'node:os';
import type { BenchOptions } from '../lib/args.js';
import { num, ratioText, spread } from '../lib/format.js';
import { type HttpTarget, httpRun } from '../lib/http-load.js';
import { type LoopDelay, readLoopDelay, resetLoopDelay } from '../lib/loop-delay.js';
import { step } from '../lib/progress.js';
import type { PhaseResult } from '../lib/results.js';
import type { Stack } from '../lib/stack.js';
import { ratioOf, rotation, summarize } from '../lib/stats.js';

interface StormRun {
  p99: number;
  p50: number;
  loop: LoopDelay | null;
  loginsPerSec: number;
}

export async function runStormTarget(stack: Stack, options: BenchOptions): Promise<PhaseResult> {
  const { tessera } = stack;
  const me: HttpTarget = {
    url: `${tessera.origin}/trpc/auth.me`,
    headers: { cookie: stack.tesseraCookie },
    expectStatus: 200,
  };
  const probe = await httpRun(me, { duration: 1, connections: options.connections, pid: tessera.pid });
  const rate = Math.max(50, Math.round(probe.rps / 4));
  const workers = Math.max(2, availableParallelism());
  step(
    `auth.me at a fixed ${num(rate)} req/s (a quarter of ${num(probe.rps)}/s); storm: ${workers} login loops`,
  );

  const loginOnce = async () => {
    const response = await fetch(`${tessera.origin}/trpc/auth.login`, {
      method: 'POST',
      headers: { origin: tessera.origin, 'content-type': 'application/json' },
      body: JSON.stringify(stack.stormAccount),
    });
    await response.arrayBuffer();
    if (response.status !== 200) throw new Error(`storm login: status ${response.status}`);
  };

  const measure = async (storm: boolean): Promise<StormRun> => {
    let stop = false;
    let logins = 0;
    const loops = storm
      ? Array.from({ length: workers }, async () => {
          while (!stop) {
            await loginOnce();
            logins++;
          }
        })
      : [];
    if (storm) await new Promise((r) => setTimeout(r, 300)); // let the storm reach full speed
    const loginsBefore = logins;
    resetLoopDelay(tessera.service.child);
    const started = performance.now();
    const run = await httpRun(me, {
      duration: options.stormSeconds,
      connections: 8,
      pid: tessera.pid,
      overallRate: rate,
    });
    const seconds = (performance.now() - started) / 1000;
    const loop = await readLoopDelay(tessera.service.child);
    stop = true;
    await Promise.all(loops);
    return { p99: run.p99, p50: run.p50, loop, loginsPerSec: (logins - loginsBefore) / seconds };
  };

  const idle: StormRun[] = [];
  const storm: StormRun[] = [];
  for (let round = 0; round < options.rounds; round++) {
    const parts: string[] = [];
    for (const kind of rotation(['idle', 'storm'] as const, round)) {
      const r = await measure(kind === 'storm');
      (kind === 'storm' ? storm : idle).push(r);
      parts.push(
        `${kind} p99 ${r.p99.toFixed(2)} ms, loop p99 ${r.loop ? r.loop.p99.toFixed(1) : '?'} ms${kind === 'storm' ? `, ${r.loginsPerSec.toFixed(1)} logins/s` : ''}`,
      );
    }
    step(`round ${round + 1}/${options.rounds}: ${parts.join(' | ')}`);
  }

  const idleP99 = summarize(idle.map((r) => r.p99));
  const stormP99 = summarize(storm.map((r) => r.p99));
  const ratio = ratioOf(stormP99, idleP99);
  const logins = summarize(storm.map((r) => r.loginsPerSec));
  const loopIdle = summarize(idle.map((r) => r.loop?.p99 ?? Number.NaN));
  const loopStorm = summarize(storm.map((r) => r.loop?.p99 ?? Number.NaN));
  return {
    rows: [
      {
        id: '7',
        target: `Login storm: auth.me p99 at ${num(rate)} req/s while logins run flat out`,
        tessera: `${spread(stormP99, 2, ' ms')} (${num(logins.median, 1)} logins/s; loop p99 ${num(loopStorm.median, 1)} ms)`,
        peer: `${spread(idleP99, 2, ' ms')} idle (loop p99 ${num(loopIdle.median, 1)} ms)`,
        ratio: ratioText(ratio),
        goal: '<= 2x',
        pass: ratio.median <= 2,
        note: `${workers} login loops on ${availableParallelism()} cores; argon2id m=19 MiB t=2 p=1 on the libuv pool`,
      },
    ],
    metrics: {
      'target7.idle.p99': { unit: 'ms', summary: idleP99 },
      'target7.storm.p99': { unit: 'ms', summary: stormP99 },
      'target7.ratio': { unit: 'x', summary: ratio },
      'target7.loginsPerSec': { unit: 'logins/s', summary: logins },
      'target7.idle.loopP99': { unit: 'ms', summary: loopIdle },
      'target7.storm.loopP99': { unit: 'ms', summary: loopStorm },
    },
    panels: [],
    facts: { target7: { rate, workers } },
  };
}
