/**
 * PGlite is a single-process database: two processes opening one data directory would corrupt it.
 * This lock file makes the second one (a second server, or the CLI while the server runs) refuse with
 * a clear message instead.
 */
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

export const LOCK_FILE = 'tessera.lock';

export class DataDirLockedError extends Error {
  readonly holder: LockInfo;
  constructor(dataDir: string, holder: LockInfo) {
    super(
      `The embedded database in ${dataDir} is in use by another Tessera process ` +
        `(${holder.role}, pid ${holder.pid} on ${holder.host}, since ${new Date(holder.since).toISOString()}). ` +
        'PGlite is single-process: stop that process first, or use DATABASE_URL (PostgreSQL) to run several. ' +
        `If no such process is running, delete ${join(dataDir, LOCK_FILE)}.`,
    );
    this.name = 'DataDirLockedError';
    this.holder = holder;
  }
}

interface LockInfo {
  pid: number;
  host: string;
  role: string;
  since: number;
}

/** Locks held by this very process, so a stale lock left by an earlier process with our pid is ours to take. */
const held = new Set<string>();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readLock(path: string): LockInfo | null {
  try {
    const info = JSON.parse(readFileSync(path, 'utf8')) as Partial<LockInfo>;
    if (typeof info.pid !== 'number') return null;
    return { pid: info.pid, host: String(info.host), role: String(info.role), since: Number(info.since) };
  } catch {
    return null;
  }
}

/**
 * Takes the lock on `dataDir` (creating the directory) or throws DataDirLockedError. A lock whose
 * process is gone (crash, container restart) is taken over. Returns the release function.
 * @param role shown to whoever is refused, e.g. 'server' or 'cli'
 */
export function lockDataDir(dataDir: string, role: string): () => void {
  mkdirSync(dataDir, { recursive: true });
  const path = join(dataDir, LOCK_FILE);
  const me: LockInfo = { pid: process.pid, host: hostname(), role, since: Date.now() };
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, JSON.stringify(me));
      closeSync(fd);
      held.add(path);
      return () => {
        held.delete(path);
        if (readLock(path)?.pid === process.pid) rmSync(path, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = readLock(path);
      const ours = holder?.pid === process.pid;
      // Our own pid without our own record means an earlier process (e.g. a restarted container's
      // pid 1) left it behind. Hosts are not compared: container hostnames change on every recreate.
      const live = holder !== null && (ours ? held.has(path) : alive(holder.pid));
      if (holder && live) throw new DataDirLockedError(dataDir, holder);
      rmSync(path, { force: true }); // stale (or unreadable): retry once
    }
  }
  const holder = readLock(path);
  throw new DataDirLockedError(dataDir, holder ?? { pid: -1, host: 'unknown', role: 'unknown', since: 0 });
}
