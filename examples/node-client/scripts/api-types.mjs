#!/usr/bin/env node
// Brings Tessera's API type (`AppRouter`) into this project, as declarations only: no server code,
// nothing that runs. Needs a Tessera checkout with its dependencies installed (`pnpm install`).
//   node scripts/api-types.mjs /path/to/tessera
// It runs the checkout's own TypeScript over apps/server with --emitDeclarationOnly into ./tessera-api/
// (generated: not committed; rerun it when you move to a newer Tessera) and adds tessera-api/index.d.ts,
// which tsconfig.json maps `@tessera/server` to. Types the declarations mention that this project
// doesn't install (Fastify, pino, ...: the server's context) resolve to `any` under skipLibCheck; the
// procedures' inputs, outputs and error data are spelled out in full.
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const checkout = process.argv[2];
if (!checkout) {
  console.error('usage: node scripts/api-types.mjs <path to a Tessera checkout, after pnpm install>');
  process.exit(2);
}
const server = resolve(checkout, 'apps/server');
const tsc = resolve(checkout, 'node_modules/.bin/tsc');
if (!existsSync(join(server, 'tsconfig.build.json')) || !existsSync(tsc)) {
  console.error(
    `${checkout} is not a Tessera checkout with its dependencies installed (run pnpm install there)`,
  );
  process.exit(2);
}
const out = fileURLToPath(new URL('../tessera-api/', import.meta.url));
rmSync(out, { recursive: true, force: true });
const run = spawnSync(
  tsc,
  [
    '-p',
    'tsconfig.build.json',
    '--declaration',
    '--emitDeclarationOnly',
    '--sourceMap',
    'false',
    '--outDir',
    out,
  ],
  { cwd: server, stdio: 'inherit' },
);
if (run.status !== 0) process.exit(run.status ?? 1);
writeFileSync(join(out, 'index.d.ts'), "export type { AppRouter } from './trpc/routers/index.js';\n");
console.log(`AppRouter declarations written to ${out}`);
