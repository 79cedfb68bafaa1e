/**
 * Child processes the bench starts (redis-server, the Tessera server, the peer app): spawned with a
 * readiness check and all of them stopped on exit, Ctrl-C or a crash, so a bench never leaves a
 * server behind. Their output goes to a file, not a pipe: a pipe to a bench busy generating load
 * fills up, and a server logging synchronously to a full pipe would be measured waiting on us.
 */
import { type ChildProcess, execFileSync, type SpawnOptions, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Service {
  name: string;
  pid: number;
  child: ChildProcess;
  /** The last lines the process printed (stdout and stderr), for error messages. */
  output(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process has exited. */
  stop(graceMs?: number): Promise<void>;
}

const running = new Set<Service>();
const tempDirs = new Set<string>();

/** A temporary directory removed when the bench ends, however it ends. */
export function tempDir(prefix: string): string {
  hookExit();
  const dir = mkdtempSync(join(tmpdir(), `tessera-bench-${prefix}-`));
  tempDirs.add(dir);
  return dir;
}

export function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}

function stopAllNow(): void {
  for (const s of running) {
    try {
      s.child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  running.clear();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

let hooked = false;
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', stopAllNow);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      stopAllNow();
      process.exit(130);
    });
  }
}

/** Stops every service still running (in reverse start order). */
export async function stopAll(): Promise<void> {
  const all = [...running].reverse();
  await Promise.all(all.map((s) => s.stop()));
}

export function startService(
  name: string,
  command: string,
  args: string[],
  options: SpawnOptions & { ipc?: boolean } = {},
): Service {
  hookExit();
  const { ipc, ...spawnOptions } = options;
  const logDir = tempDir('log');
  const logFile = join(logDir, `${name}.log`);
  const fd = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(command, args, {
      ...spawnOptions,
      stdio: ipc ? ['ignore', fd, fd, 'ipc'] : ['ignore', fd, fd],
    });
  } finally {
    closeSync(fd);
  }
  if (child.pid === undefined) throw new Error(`${name}: could not start ${command}`);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const service: Service = {
    name,
    pid: child.pid,
    child,
    output() {
      try {
        return readFileSync(logFile, 'utf8').split('\n').slice(-40).join('\n');
      } catch {
        return '';
      }
    },
    async stop(graceMs = 5_000) {
      running.delete(service);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      }
      removeTempDir(logDir);
    },
  };
  running.add(service);
  return service;
}

/** A TCP port nobody listens on right now (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Polls `check` until it resolves true, or throws after `timeoutMs` with the service's output. */
export async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  options: { timeoutMs?: number; service?: Service } = {},
): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 20_000);
  while (Date.now() < deadline) {
    if (options.service && options.service.child.exitCode !== null) {
      throw new Error(
        `${what}: the process exited (${options.service.child.exitCode}):\n${options.service.output()}`,
      );
    }
    try {
      if (await check()) return;
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(
    `${what}: not ready after ${options.timeoutMs ?? 20_000} ms\n${options.service?.output() ?? ''}`,
  );
}

let clockTicks: number | null = null;
function ticksPerSecond(): number {
  if (clockTicks === null) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/**
 * CPU time (user + system, all threads) a process has used so far, in microseconds, from
 * /proc/<pid>/stat (utime and stime, fields 14 and 15, in clock ticks: 10 ms each on Linux).
 */
export function processCpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may contain spaces and parentheses: count fields after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return ((utime + stime) * 1_000_000) / ticksPerSecond();
}
