/**
 * In-process load: `concurrency` async loops calling `op` back to back for `seconds`. Reports
 * operations per second, this process's CPU per operation (process.cpuUsage), the store server's CPU
 * per operation when its pid is given (/proc), and this event loop's delay while it ran
 * (perf_hooks.monitorEventLoopDelay): a client that saturates its own loop measures itself, not the store.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { processCpuMicros } from './processes.js';

const LOOP_RESOLUTION_MS = 10;

export interface InprocRun {
  ops: number;
  opsPerSec: number;
  /** This process's CPU per operation, microseconds. */
  clientCpuUs: number;
  /** The server's CPU per operation, microseconds (NaN without a pid). */
  serverCpuUs: number;
  /** Event-loop delay p99 of this process during the run, milliseconds beyond the sampling interval. */
  loopP99: number;
}

export interface InprocOptions {
  seconds: number;
  concurrency: number;
  /** Process(es) whose CPU to charge (e.g. redis-server). */
  serverPids?: number[];
}

/** `op(i)` gets a running counter, e.g. to pick the i-th token round-robin. */
export async function inprocRun(
  op: (i: number) => Promise<unknown>,
  options: InprocOptions,
): Promise<InprocRun> {
  const loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  const pids = options.serverPids ?? [];
  const serverCpu = () => pids.reduce((sum, pid) => sum + processCpuMicros(pid), 0);
  let counter = 0;
  let stop = false;
  const timer = setTimeout(() => {
    stop = true;
  }, options.seconds * 1000);
  loop.enable();
  const serverBefore = serverCpu();
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: options.concurrency }, async () => {
      while (!stop) await op(counter++);
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const serverUsed = serverCpu() - serverBefore;
  loop.disable();
  clearTimeout(timer);
  return {
    ops: counter,
    opsPerSec: counter / elapsed,
    clientCpuUs: (cpu.user + cpu.system) / counter,
    serverCpuUs: pids.length ? serverUsed / counter : Number.NaN,
    // The histogram records whole sampling intervals: the delay is what exceeds the interval.
    loopP99: Math.max(0, loop.percentile(99) / 1e6 - LOOP_RESOLUTION_MS),
  };
}
