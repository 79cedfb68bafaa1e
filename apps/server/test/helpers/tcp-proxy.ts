import net from 'node:net';

/**
 * A tiny loopback TCP proxy put between the server and a store (Redis, PostgreSQL) to misbehave on
 * purpose:
 *  - `delay(ms)`: every chunk, both ways, arrives `ms` later (a slow or distant store); order kept.
 *  - a shared `Tripwire`: the n-th client->store chunk (counted across every proxy sharing it) is
 *    held back, never forwarded, and the tripwire fires, so a test can kill the server process
 *    exactly before that write reaches its store.
 */
export interface TcpProxy {
  port: number;
  /** Connections accepted so far (to check what a process opens). */
  readonly connections: number;
  /** Adds this latency to every chunk from now on (0: none). */
  delay(ms: number): void;
  /** Drops every connection (held chunks are discarded). */
  reset(): void;
  close(): Promise<void>;
}

export interface Held {
  /** The label of the proxy that held it (e.g. 'redis', 'postgres'). */
  label: string;
  chunk: Buffer;
}

/** Counts client->store chunks across the proxies that share it and holds the n-th one. */
export class Tripwire {
  /** Every chunk counted since the last `arm`, in order (the write sequence of a request). */
  readonly seen: Held[] = [];
  private left = 0;
  private fire: ((held: Held) => void) | null = null;
  private holding = false;

  /** Holds the n-th client->store chunk from now (1 = the next one); resolves when it is held. */
  arm(n: number): Promise<Held> {
    this.seen.length = 0;
    this.holding = false;
    this.left = n;
    return new Promise((resolve) => {
      this.fire = resolve;
    });
  }

  /** Counts only (no hold): to record a request's write sequence. */
  record(): void {
    this.seen.length = 0;
    this.holding = false;
    this.left = 0;
    this.fire = null;
  }

  /** Lets traffic through again (after the held process was killed). */
  release(): void {
    this.holding = false;
    this.fire = null;
    this.left = 0;
  }

  /** Called by the proxies: false means "do not forward". */
  pass(label: string, chunk: Buffer): boolean {
    if (this.holding) return false; // the process is about to die: nothing more gets through
    this.seen.push({ label, chunk });
    if (this.fire && --this.left === 0) {
      this.holding = true;
      const fire = this.fire;
      this.fire = null;
      fire({ label, chunk });
      return false;
    }
    return true;
  }
}

export async function startTcpProxy(
  target: { host?: string; port: number },
  options: { label?: string; tripwire?: Tripwire } = {},
): Promise<TcpProxy> {
  const host = target.host ?? '127.0.0.1';
  const label = options.label ?? String(target.port);
  const sockets = new Set<net.Socket>();
  let latency = 0;
  let connections = 0;

  /** Forwards chunks in order, each no earlier than its arrival + latency. */
  const pipe = (from: net.Socket, to: net.Socket, up: boolean) => {
    let queue = Promise.resolve();
    from.on('data', (chunk: Buffer) => {
      if (up && options.tripwire && !options.tripwire.pass(label, chunk)) return;
      const due = Date.now() + latency;
      queue = queue.then(async () => {
        const wait = due - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        if (!to.destroyed) to.write(chunk);
      });
    });
  };

  const server = net.createServer((client) => {
    connections++;
    const store = net.connect(target.port, host);
    sockets.add(client);
    sockets.add(store);
    pipe(client, store, true);
    pipe(store, client, false);
    const end = () => {
      client.destroy();
      store.destroy();
      sockets.delete(client);
      sockets.delete(store);
    };
    client.on('error', end).on('close', end);
    store.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;

  const reset = () => {
    for (const s of sockets) s.destroy();
    sockets.clear();
  };
  return {
    port,
    get connections() {
      return connections;
    },
    delay(ms) {
      latency = ms;
    },
    reset,
    async close() {
      reset();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
