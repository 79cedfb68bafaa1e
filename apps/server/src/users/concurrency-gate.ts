/**
 * At most `limit` tasks at a time; the rest wait their turn, first come first served.
 *
 * Why for password hashing: argon2id runs on the libuv threadpool (4 threads by default), so a burst
 * of sign-ins (or a credential-stuffing run) can occupy every core with hashing. The event loop stays
 * free, but it has no CPU left to run on: every signed-in user's requests slow down with the storm.
 * Hashing at most (cores - 1) at a time keeps a core for the requests; sign-ins queue instead.
 */
export interface ConcurrencyGate {
  run<T>(task: () => Promise<T>): Promise<T>;
  /** Tasks running now. */
  readonly active: number;
  /** Tasks waiting for a slot. */
  readonly waiting: number;
}

export function concurrencyGate(limit: number): ConcurrencyGate {
  if (!Number.isInteger(limit) || limit < 1)
    throw new RangeError(`limit must be an integer >= 1, got ${limit}`);
  let active = 0;
  const queue: (() => void)[] = [];

  const release = () => {
    const next = queue.shift();
    if (next) next();
    else active--;
  };

  return {
    async run<T>(task: () => Promise<T>): Promise<T> {
      if (active < limit) active++;
      else await new Promise<void>((resolve) => queue.push(resolve)); // the slot passes to us as is
      try {
        return await task();
      } finally {
        release();
      }
    },
    get active() {
      return active;
    },
    get waiting() {
      return queue.length;
    },
  };
}
