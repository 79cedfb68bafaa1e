import { existsSync, readFileSync, rmSync } from 'node:fs';
import { chown, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from './exec.js';
import { freePort } from './ports.js';
import { onProcessEnd } from './process-end.js';

/**
 * A PRIVATE PostgreSQL cluster for one test file (initdb + pg_ctl in a temporary directory, on a free
 * loopback port), so a test can take the database down without touching the shared server on 5432.
 * Named like `TestRedis`: `kill()` is an immediate shutdown (what a crash or a pulled plug looks like
 * to clients) and `start()` brings it back with its data; `stop()` is the end (data deleted).
 */
export interface PrivatePostgres {
  /** postgres://postgres@127.0.0.1:<port>/postgres */
  url: string;
  port: number;
  /** Starts it again after `kill()`; resolves once it accepts connections. */
  start(): Promise<void>;
  /** Immediate shutdown (no checkpoint, clients cut off); resolves once it is down. */
  kill(): Promise<void>;
  /** Final: shuts it down and deletes the data directory. */
  stop(): Promise<void>;
}

type Owner = { uid: number; gid: number } | null;

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const [bin, owner, port] = await Promise.all([binDir(), postgresUser(), freePort()]);
  const dir = await mkdtemp(join(tmpdir(), 'tessera-pg-'));
  const data = join(dir, 'data');
  // If the test process ends without stop() (a timeout, a crash), don't leave a postmaster behind:
  // SIGQUIT is its immediate shutdown. Synchronous on purpose (see process-end.ts).
  const forget = onProcessEnd(() => {
    try {
      const pid = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
      if (pid > 0) process.kill(pid, 'SIGQUIT');
    } catch {
      // not running (no postmaster.pid), or already gone
    }
    rmSync(dir, { recursive: true, force: true });
  });
  if (owner) await chown(dir, owner.uid, owner.gid);
  const options = [
    `-p ${port}`,
    '-c listen_addresses=127.0.0.1',
    `-k ${dir}`,
    // No fsync (only an OS crash could lose data); commits stay synchronous, so an immediate
    // shutdown loses nothing that was acknowledged.
    '-c fsync=off',
    '-c max_connections=50',
    '-c shared_buffers=16MB',
  ].join(' ');
  const pgCtl = (...args: string[]) => asOwner(join(bin, 'pg_ctl'), ['-D', data, ...args], owner);
  const start = async () => {
    await pgCtl('-o', options, '-l', join(dir, 'log'), '-w', '-t', '30', 'start');
  };
  const kill = async () => {
    if (!existsSync(join(data, 'postmaster.pid'))) return;
    await pgCtl('-m', 'immediate', '-w', '-t', '30', 'stop');
  };
  try {
    await asOwner(
      join(bin, 'initdb'),
      ['-D', data, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8'],
      owner,
    );
    await start();
  } catch (error) {
    forget();
    await kill().catch(() => {});
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    start,
    kill,
    async stop() {
      forget();
      await kill().catch(() => {});
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The newest installed server binaries (Debian: /usr/lib/postgresql/<major>/bin), or the PATH's. */
async function binDir(): Promise<string> {
  const root = '/usr/lib/postgresql';
  const majors = (await readdir(root).catch(() => []))
    .filter((d) => /^\d+$/.test(d) && existsSync(join(root, d, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  if (majors[0]) return join(root, majors[0], 'bin');
  const initdb = await run('sh', ['-c', 'command -v initdb']).catch(() => '');
  if (initdb.trim()) return join(initdb.trim(), '..');
  throw new Error(
    'initdb was not found: these tests start a private PostgreSQL (apt-get install -y postgresql).',
  );
}

/** PostgreSQL refuses to run as root: its binaries run as the `postgres` user then. */
async function postgresUser(): Promise<Owner> {
  if (process.getuid?.() !== 0) return null;
  try {
    const [uid, gid] = await Promise.all([run('id', ['-u', 'postgres']), run('id', ['-g', 'postgres'])]);
    return { uid: Number(uid.trim()), gid: Number(gid.trim()) };
  } catch {
    throw new Error('running as root and there is no "postgres" user to run a private PostgreSQL as');
  }
}

function asOwner(bin: string, args: string[], owner: Owner): Promise<string> {
  return run(bin, args, { ...(owner ?? {}), env: { ...process.env, LC_ALL: 'C' } });
}
