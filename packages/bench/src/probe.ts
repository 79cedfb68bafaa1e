/**
 * Preloaded into the servers the bench starts (`node --import <this file> ...`), so their event-loop
 * delay can be read from outside without changing them: a `perf_hooks.monitorEventLoopDelay`
 * histogram, reset and read over the IPC channel the bench opens. Without that channel it does nothing.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';

export interface LoopDelay {
  /** Milliseconds of delay beyond the 10 ms sampling interval (the histogram records whole intervals). */
  p50: number;
  p99: number;
  max: number;
  mean: number;
}

const RESOLUTION_MS = 10;

if (typeof process.send === 'function') {
  const histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  histogram.enable();
  process.on('message', (message: unknown) => {
    if (message === 'eld:reset') {
      histogram.reset();
    } else if (message === 'eld:read') {
      const ms = (ns: number) => Math.max(0, ns / 1e6 - RESOLUTION_MS);
      const reading: LoopDelay = {
        p50: ms(histogram.percentile(50)),
        p99: ms(histogram.percentile(99)),
        max: ms(histogram.max),
        mean: ms(histogram.mean),
      };
      process.send?.({ eld: reading });
    }
  });
  // The channel must not keep the server alive, nor stop it from exiting on its own.
  process.channel?.unref();
}
