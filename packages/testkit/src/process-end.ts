/**
 * Synchronous cleanups that must run however the test process ends, so that no private server
 * outlives it. An 'exit' listener alone is not enough: vitest ends its worker processes with SIGTERM,
 * and Node's default SIGTERM action exits without emitting 'exit'. So the signals are caught too,
 * the cleanups run, and the signal is raised again to end the process as it would have.
 *
 * One registry per process (on globalThis): vitest re-imports this module for every test file that
 * runs in the same worker, and each copy must not add its own process listeners.
 */
type Cleanup = () => void;

const KEY = Symbol.for('@tessera/testkit/process-end');
const SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;

const store = globalThis as { [KEY]?: Set<Cleanup> };
store[KEY] ??= install();
const cleanups = store[KEY];

function install(): Set<Cleanup> {
  const registered = new Set<Cleanup>();
  const runAll = () => {
    for (const cleanup of registered) {
      try {
        cleanup();
      } catch {
        // best effort: the process is ending
      }
    }
    registered.clear();
  };
  process.once('exit', runAll);
  for (const signal of SIGNALS) {
    const onSignal = () => {
      runAll();
      process.off(signal, onSignal);
      // Nobody else handles it: die of it, as without this listener.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
  return registered;
}

/** Runs `cleanup` (synchronous) when the process ends; the returned function unregisters it. */
export function onProcessEnd(cleanup: Cleanup): () => void {
  cleanups.add(cleanup);
  return () => {
    cleanups.delete(cleanup);
  };
}
