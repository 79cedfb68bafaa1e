#!/usr/bin/env node
// A server process for the fault, crash, race, soak and fuzz tests: the BUILT server (dist/), composed
// and started exactly as main.ts does, except that argon2 is cheap (unless TESSERA_TEST_ARGON2=production)
// and the session tombstone time can be shortened (TESSERA_TEST_TOMBSTONE_TTL_MS). Configuration comes
// from the environment like the real server's. Prints one JSON line `{"testServer": url, "pid": pid}`
// on stdout once it listens (the rest of stdout is the server's JSON log).
//   node apps/server/scripts/test-server.mjs   (after `pnpm --filter @tessera/server build`)
import { compose } from '../dist/compose.js';
import { parseEnv } from '../dist/env.js';
import { createServer } from '../dist/http/server.js';

const argon2 =
  process.env.TESSERA_TEST_ARGON2 === 'production'
    ? undefined
    : { memoryCost: 1024, timeCost: 1, parallelism: 1 };
const tombstone = process.env.TESSERA_TEST_TOMBSTONE_TTL_MS;

const config = parseEnv(process.env);
const runtime = await compose(config, {
  argon2,
  demoUsers: false,
  ...(tombstone ? { sessionTombstoneTtlMs: Number(tombstone) } : {}),
});
const server = createServer(runtime);
const url = await server.start({ port: config.port, host: config.host });
process.stdout.write(`${JSON.stringify({ testServer: url, pid: process.pid })}\n`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await server.stop().catch(() => {});
  await runtime.close();
  process.exit(0);
};
process.once('SIGTERM', () => void stop());
process.once('SIGINT', () => void stop());
