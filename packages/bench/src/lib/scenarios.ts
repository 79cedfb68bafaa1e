/**
 * Interleaved HTTP rounds: every scenario runs once per round, in an order rotated each round, so a
 * slow minute on a shared machine hits all of them alike. Medians over rounds are what we report.
 */
import type { BenchOptions } from './args.js';
import { type HttpRun, type HttpTarget, httpRun } from './http-load.js';
import { step } from './progress.js';
import { rotation, type Summary, summarize } from './stats.js';

export interface Scenario {
  key: string;
  label: string;
  target: HttpTarget;
  pid: number;
}

export interface ScenarioStats {
  rps: Summary;
  cpuUs: Summary;
  p99: Summary;
  cpuCores: Summary;
  runs: HttpRun[];
}

export async function runRounds(
  scenarios: Scenario[],
  options: BenchOptions,
  extra: { overallRate?: number } = {},
): Promise<Record<string, ScenarioStats>> {
  const runs = new Map<string, HttpRun[]>(scenarios.map((s) => [s.key, []]));
  if (options.warmup) {
    step(`warm-up: ${scenarios.map((s) => s.key).join(', ')}`);
    for (const s of scenarios)
      await httpRun(s.target, { duration: 1, connections: options.connections, pid: s.pid });
  }
  for (let round = 0; round < options.rounds; round++) {
    const parts: string[] = [];
    for (const s of rotation(scenarios, round)) {
      const run = await httpRun(s.target, {
        duration: options.httpSeconds,
        connections: options.connections,
        pid: s.pid,
        ...extra,
      });
      runs.get(s.key)!.push(run);
      parts.push(`${s.key} ${Math.round(run.rps)}/s ${run.cpuUs.toFixed(0)}us`);
    }
    step(`round ${round + 1}/${options.rounds}: ${parts.join(' | ')}`);
  }
  const out: Record<string, ScenarioStats> = {};
  for (const s of scenarios) {
    const list = runs.get(s.key)!;
    out[s.key] = {
      rps: summarize(list.map((r) => r.rps)),
      cpuUs: summarize(list.map((r) => r.cpuUs)),
      p99: summarize(list.map((r) => r.p99)),
      cpuCores: summarize(list.map((r) => r.cpuCores)),
      runs: list,
    };
  }
  return out;
}
