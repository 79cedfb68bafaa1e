/**
 * One HTTP load run with autocannon (in-process API) against a server the bench started, with the
 * server's CPU time read from /proc before and after: CPU per request is what the server spent,
 * whichever thread spent it. Latency comes from autocannon's per-response timings in microseconds
 * (its own histogram keeps whole milliseconds, too coarse for a p99 of 1-3 ms).
 */
import { createHistogram } from 'node:perf_hooks';
import autocannon from 'autocannon';
import { processCpuMicros } from './processes.js';

export interface HttpTarget {
  /** Full URL, path included. */
  url: string;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  /** The status every response must have; the run fails otherwise (a 429 or 503 would fake a result). */
  expectStatus: number;
}

export interface HttpRunOptions {
  /** Seconds. */
  duration: number;
  connections: number;
  /** The server process to charge CPU to. */
  pid: number;
  /** Fixed request rate (all connections together); omitted = as fast as the server answers. */
  overallRate?: number;
}

export interface HttpRun {
  requests: number;
  /** Requests per second over the run. */
  rps: number;
  /** Server CPU (user + system, all threads) per request, microseconds. */
  cpuUs: number;
  /** Server CPU use over the run, in cores (1.0 = one core busy all the time). */
  cpuCores: number;
  /** Latency percentiles, milliseconds. */
  p50: number;
  p99: number;
  errors: number;
}

export async function httpRun(target: HttpTarget, options: HttpRunOptions): Promise<HttpRun> {
  const latency = createHistogram();
  let unexpected = 0;
  let lastStatus = 0;
  const cpuBefore = processCpuMicros(options.pid);
  const started = process.hrtime.bigint();
  let instance: autocannon.Instance | undefined;
  const done = new Promise<autocannon.Result>((resolve, reject) => {
    instance = autocannon(
      {
        url: target.url,
        method: target.method ?? 'GET',
        headers: target.headers ?? {},
        ...(target.body === undefined ? {} : { body: target.body }),
        connections: options.connections,
        duration: options.duration,
        ...(options.overallRate ? { overallRate: options.overallRate } : {}),
        timeout: 10,
      },
      (error, result) => (error ? reject(error) : resolve(result)),
    );
  });
  instance!.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
    latency.record(Math.max(1, Math.round(responseTime * 1000)));
    if (statusCode !== target.expectStatus) {
      unexpected++;
      lastStatus = statusCode;
    }
  });
  const result = await done;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const cpu = processCpuMicros(options.pid) - cpuBefore;
  const requests = result.requests.total;
  if (requests === 0) throw new Error(`${target.url}: no responses (errors: ${result.errors})`);
  if (unexpected > requests * 0.001) {
    throw new Error(
      `${target.url}: ${unexpected} of ${requests} responses had an unexpected status (last ${lastStatus}, expected ${target.expectStatus})`,
    );
  }
  return {
    requests,
    rps: requests / seconds,
    cpuUs: cpu / requests,
    cpuCores: cpu / 1e6 / seconds,
    p50: latency.percentile(50) / 1000,
    p99: latency.percentile(99) / 1000,
    errors: result.errors,
  };
}
