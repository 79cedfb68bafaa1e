// sessions.ts: the session manager, embedded (PGlite: PostgreSQL in WASM, no server to run)
import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { createSessionManager } from '@tessera/session-core';
import { pgliteStore } from '@tessera/session-core/pglite';

const dir = './.data/sessions';
mkdirSync(dir, { recursive: true }); // PGlite creates only the last folder of the path
// One process per data directory: PGlite is a library, not a server.
const store = pgliteStore({ db: await PGlite.create(dir) }); // creates its table on first use

export const sessions = createSessionManager({ store });

setInterval(() => sessions.sweep().catch((error) => console.error(error)), 10 * 60_000).unref();
