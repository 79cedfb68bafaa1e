import { UnavailableError } from './unavailable.js';

/** Runs a Redis command; any failure (down, timeout, offline queue disabled) becomes UnavailableError (503). */
export async function redisCall<T>(operation: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new UnavailableError(`redis: ${operation} failed: ${detail}`, error);
  }
}
