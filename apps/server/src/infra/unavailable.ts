/**
 * "A backing service could not answer", the one failure every layer must keep apart from "no" (no
 * session, wrong password): a client sees it as 503, never as signed out. The server's own stores
 * (users database, grants, credential counters) throw `UnavailableError`; session-core's manager
 * throws `SessionStoreError`. `isUnavailable` is the single test the tRPC layer uses for both.
 */
import { SessionStoreError } from '@tessera/session-core';

export class UnavailableError extends Error {
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
    this.name = 'UnavailableError';
  }
}

export function isUnavailable(error: unknown): boolean {
  return error instanceof SessionStoreError || error instanceof UnavailableError;
}
