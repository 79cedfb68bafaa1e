/** Reads the event-loop delay of a child started with the probe preloaded (see ../probe.ts). */
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { LoopDelay } from '../probe.js';

export type { LoopDelay };

/** `--import` argument that preloads the probe. */
export const probeImport = (): string[] => [
  '--import',
  fileURLToPath(new URL('../probe.js', import.meta.url)),
];

export function resetLoopDelay(child: ChildProcess): void {
  child.send?.('eld:reset');
}

export function readLoopDelay(child: ChildProcess, timeoutMs = 2_000): Promise<LoopDelay | null> {
  if (!child.send) return Promise.resolve(null);
  return new Promise((resolve) => {
    const onMessage = (message: unknown) => {
      if (message && typeof message === 'object' && 'eld' in message) {
        clearTimeout(timer);
        child.off('message', onMessage);
        resolve((message as { eld: LoopDelay }).eld);
      }
    };
    const timer = setTimeout(() => {
      child.off('message', onMessage);
      resolve(null);
    }, timeoutMs);
    child.on('message', onMessage);
    child.send?.('eld:read');
  });
}
