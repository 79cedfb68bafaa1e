// sessions.ts, with typed session data (here over PGlite; any store is alike)
import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { createSessionManager } from '@tessera/session-core';
import { pgliteStore } from '@tessera/session-core/pglite';

export type AppSession = { role: 'user' | 'admin'; authAt?: number };

// Session data comes back from the store as JSON, perhaps written by an older version of the app:
// check it here, once (a schema library's `parse` fits too: `parseData: (raw) => schema.parse(raw)`).
function parseData(raw: unknown): AppSession {
  const { role, authAt } = raw as Partial<AppSession>;
  if (role !== 'user' && role !== 'admin') throw new TypeError('session data: role');
  if (authAt !== undefined && typeof authAt !== 'number') throw new TypeError('session data: authAt');
  return authAt === undefined ? { role } : { role, authAt };
}

const dir = './.data/sessions';
mkdirSync(dir, { recursive: true });
const store = pgliteStore({ db: await PGlite.create(dir) });

// TData is inferred from parseData: `session.data.role` is 'user' | 'admin', with no cast anywhere;
// a refused value throws SessionError (code 'INVALID_DATA').
export const sessions = createSessionManager({ store, parseData });
