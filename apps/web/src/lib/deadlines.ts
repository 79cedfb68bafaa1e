/**
 * Where the current session's two deadlines stand, on this browser's clock, without asking the
 * server (asking would touch the session and defeat the idle timeout):
 *  - `auth.me` gives both deadlines, the idle duration and the clock offset;
 *  - every API response that went through with the session (watched in `trackingFetch`) slid the idle
 *    deadline on the server: we slide our copy from the request's *start*, so ours is never later
 *    than the server's;
 *  - `auth.ping` reports the new idle deadline exactly;
 *  - other tabs share what they learn over the BroadcastChannel (a request in one tab keeps the
 *    session alive for all of them).
 */

export interface SessionTimes {
  createdAt: number;
  lastActivityAt: number;
  idleExpiresAt: number;
  absoluteExpiresAt: number;
}

export interface DeadlineState {
  /** Idle deadline, local clock (ms). Null when nothing is known (signed out). */
  idleAt: number | null;
  /** Absolute deadline, local clock (ms). */
  absoluteAt: number | null;
  /** Idle timeout configured on the server (ms). */
  idleMs: number | null;
  /** Absolute timeout configured on the server (ms). */
  absoluteMs: number | null;
}

const EMPTY: DeadlineState = { idleAt: null, absoluteAt: null, idleMs: null, absoluteMs: null };

/** The idle warning shows this long before the idle deadline: 2 minutes, or half of a short timeout. */
export const idleWarningLead = (idleMs: number) => Math.min(2 * 60_000, idleMs / 2);
/** The absolute-deadline notice shows this long before it: 10 minutes, or half of a short maximum. */
export const absoluteNoticeLead = (absoluteMs: number) => Math.min(10 * 60_000, absoluteMs / 2);

export class DeadlineTracker {
  #state: DeadlineState = EMPTY;
  /** serverClock - localClock (ms). */
  #offset = 0;
  #listeners = new Set<() => void>();
  /** Told about every change that came from this tab (to share with the others). */
  onLocalChange: ((idleExpiresAt: number) => void) | null = null;

  constructor(private readonly now: () => number = Date.now) {}

  get state(): DeadlineState {
    return this.#state;
  }

  subscribe = (listener: () => void): (() => void) => {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  };

  getSnapshot = (): DeadlineState => this.#state;

  /** `auth.me` answered: `sentAt`/`receivedAt` bracket the request on the local clock. */
  fromMe(session: SessionTimes, sentAt: number, receivedAt: number = this.now()): void {
    // The server touched the session (lastActivityAt = its now) while handling this request.
    this.#offset = session.lastActivityAt - (sentAt + receivedAt) / 2;
    const idleMs = session.idleExpiresAt - session.lastActivityAt;
    this.#set({
      idleAt: this.#local(session.idleExpiresAt),
      absoluteAt: this.#local(session.absoluteExpiresAt),
      idleMs: Math.max(idleMs, this.#state.idleMs ?? 0),
      absoluteMs: session.absoluteExpiresAt - session.createdAt,
    });
  }

  /** A request that started at `sentAt` (local) went through with the live session. */
  touched(sentAt: number): void {
    const { idleAt, idleMs, absoluteAt } = this.#state;
    if (idleAt === null || idleMs === null || absoluteAt === null) return;
    const next = Math.min(sentAt + idleMs, absoluteAt);
    if (next <= idleAt) return;
    this.#set({ ...this.#state, idleAt: next });
    this.onLocalChange?.(next + this.#offset);
  }

  /** The server told us the idle deadline (auth.ping). */
  fromServer(idleExpiresAt: number): void {
    if (this.#state.idleAt === null) return;
    this.#set({ ...this.#state, idleAt: this.#local(idleExpiresAt) });
    this.onLocalChange?.(idleExpiresAt);
  }

  /** Another tab learned a later idle deadline (server clock). */
  fromOtherTab(idleExpiresAt: number): void {
    const local = this.#local(idleExpiresAt);
    if (this.#state.idleAt === null || local <= this.#state.idleAt) return;
    this.#set({ ...this.#state, idleAt: Math.min(local, this.#state.absoluteAt ?? local) });
  }

  clear(): void {
    this.#set(EMPTY);
  }

  #local(serverMs: number): number {
    return serverMs - this.#offset;
  }

  #set(next: DeadlineState): void {
    this.#state = next;
    for (const listener of this.#listeners) listener();
  }
}

/**
 * A fetch for the batch link that reports which API requests kept the session alive. A response the
 * server answered with anything but 401 (the session is gone) or a 5xx/network failure went through
 * createContext with a live cookie, which slid the idle deadline.
 */
export function trackingFetch(
  tracker: DeadlineTracker,
  base: typeof globalThis.fetch = (...args) => globalThis.fetch(...args),
  now: () => number = Date.now,
): typeof globalThis.fetch {
  return async (input, init) => {
    const sentAt = now();
    const response = await base(input, init);
    if (response.status !== 401 && response.status < 500) tracker.touched(sentAt);
    return response;
  };
}
