/**
 * Delivers "this session ended" to whoever listens for that session id (the events.onSessionEnded
 * subscription), on every instance: through Redis pub/sub when Redis is the store, in-process
 * otherwise (the SQL store runs one instance per database... or several, which then only hear their
 * own events). Which of the two it is decides how often a subscription must look the session up
 * itself (trpc/routers/events.ts): a bus that hears every instance only misses events while its subscriber
 * is disconnected, and says so (`onGap`); a local one never hears the other instances at all.
 */
import type { EndReason, SessionEvent } from '@tessera/session-core';
import type { Cluster, Redis } from 'ioredis';

export interface SessionEnded {
  sessionId: string;
  reason: EndReason | 'ended';
  at: number;
}

export interface SessionEventBus {
  /** Called for every manager event; forwards the ones that end a session. */
  publish(event: SessionEvent): void;
  /** Listens for the end of one session. Returns the unsubscribe function. */
  subscribe(sessionId: string, listener: (ended: SessionEnded) => void): () => void;
  /** True when this bus hears the events of every instance (Redis pub/sub), false when only its own. */
  readonly shared: boolean;
  /**
   * Called when events may have been missed: the subscriber connection came back after a drop (pub/sub
   * keeps nothing for a disconnected subscriber). Listeners should look their sessions up again.
   * Returns the unsubscribe function.
   */
  onGap(listener: () => void): () => void;
  close(): Promise<void>;
}

const ENDING = new Set(['logged_out', 'revoked', 'evicted', 'expired']);

function localListeners() {
  const listeners = new Map<string, Set<(ended: SessionEnded) => void>>();
  return {
    deliver(ended: SessionEnded) {
      for (const listener of listeners.get(ended.sessionId) ?? []) listener(ended);
    },
    subscribe(sessionId: string, listener: (ended: SessionEnded) => void) {
      const set = listeners.get(sessionId) ?? new Set();
      listeners.set(sessionId, set);
      set.add(listener);
      return () => {
        set.delete(listener);
        if (set.size === 0) listeners.delete(sessionId);
      };
    },
  };
}

const toEnded = (e: SessionEvent): SessionEnded => ({
  sessionId: e.sessionId,
  reason: e.reason ?? 'ended',
  at: e.at,
});

export function localEventBus(): SessionEventBus {
  const local = localListeners();
  return {
    publish(event) {
      if (ENDING.has(event.type)) local.deliver(toEnded(event));
    },
    subscribe: local.subscribe,
    shared: false,
    onGap: () => () => {},
    close: async () => {},
  };
}

/**
 * Redis pub/sub on `<prefix>events`. `subscriber` must be a dedicated connection (a client in
 * subscriber mode can't run other commands): pass `client.duplicate()`. Without one (the CLI, which
 * ends sessions but never listens) the bus only publishes, and hears its own events alone. A publish
 * that fails (Redis down) is delivered locally at least.
 */
export function redisEventBus(options: {
  publisher: Redis | Cluster;
  subscriber?: Redis | Cluster;
  prefix?: string;
  onError?: (error: unknown) => void;
}): SessionEventBus {
  const channel = `${options.prefix ?? 'tessera:'}events`;
  const local = localListeners();
  const { publisher, subscriber } = options;
  const gapListeners = new Set<() => void>();
  if (subscriber) {
    subscriber.on('message', (ch: string, message: string) => {
      if (ch !== channel) return;
      try {
        local.deliver(JSON.parse(message) as SessionEnded);
      } catch (error) {
        options.onError?.(error);
      }
    });
    // Subscribe once connected (no offline queue: a command sent earlier would just fail); ioredis
    // re-subscribes by itself after a reconnect.
    const subscribe = () =>
      void subscriber.subscribe(channel).catch((error: unknown) => options.onError?.(error));
    if (subscriber.status === 'ready') subscribe();
    else subscriber.once('ready', subscribe);
    // A drop, then 'ready' again: whatever was published in between never reached us.
    let dropped = false;
    subscriber.on('close', () => {
      dropped = true;
    });
    subscriber.on('ready', () => {
      if (!dropped) return;
      dropped = false;
      for (const listener of gapListeners) listener();
    });
  }
  const inFlight = new Set<Promise<void>>();
  return {
    publish(event) {
      if (!ENDING.has(event.type)) return;
      const ended = toEnded(event);
      const sent = publisher.publish(channel, JSON.stringify(ended)).then(
        () => {},
        (error: unknown) => {
          options.onError?.(error);
          local.deliver(ended);
        },
      );
      inFlight.add(sent);
      void sent.finally(() => inFlight.delete(sent));
    },
    subscribe: local.subscribe,
    shared: subscriber !== undefined,
    onGap(listener) {
      gapListeners.add(listener);
      return () => gapListeners.delete(listener);
    },
    async close() {
      gapListeners.clear();
      // Ends published just before closing (the CLI's revoke-all, then exit) still go out: the
      // publisher is closed after this.
      await Promise.allSettled(inFlight);
      subscriber?.disconnect();
    },
  };
}
