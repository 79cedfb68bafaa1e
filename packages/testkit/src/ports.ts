import { createServer } from 'node:net';

/**
 * Ports for private services, picked at random BELOW the ephemeral range (Linux 32768-60999, macOS
 * 49152-65535): outgoing connections take their local port from that range, so a service that a test
 * kills and restarts on the same port won't find it taken in between. A Redis Cluster node also
 * listens on port + 10000 (its cluster bus), which must be free as well (and <= 65535): cluster ports
 * come from the lower part so that both stay below 32768.
 */
const LOW = 15_000;
const EPHEMERAL = 32_768;
const CLUSTER_BUS_OFFSET = 10_000;
const HOST = '127.0.0.1';

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: HOST, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

async function pick(high: number, twin: boolean): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = LOW + Math.floor(Math.random() * (high - LOW));
    if ((await isFree(port)) && (!twin || (await isFree(port + CLUSTER_BUS_OFFSET)))) return port;
  }
  throw new Error(`no free loopback port found in ${LOW}-${high - 1}`);
}

/** A free loopback port (free when checked: the caller binds it, and retries if it lost a race). */
export function freePort(): Promise<number> {
  return pick(EPHEMERAL, false);
}

/** A free loopback port whose cluster-bus twin (port + 10000) is free too, both below 32768. */
export function freeClusterPort(): Promise<number> {
  return pick(EPHEMERAL - CLUSTER_BUS_OFFSET, true);
}
