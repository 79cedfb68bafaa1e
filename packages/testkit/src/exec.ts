import { type ExecFileOptions, execFile } from 'node:child_process';

/**
 * Runs a program to completion WITHOUT blocking the event loop (unlike spawnSync/execFileSync, which
 * starve every timer and socket in the test process while they run: a pg connect timeout then fires
 * before its socket's connect was even processed). Resolves with stdout; rejects with stdout and
 * stderr in the message, and with `code: 'ENOENT'` when the program is not installed.
 */
export function run(file: string, args: string[], options: ExecFileOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { encoding: 'utf8', ...options }, (error, stdout, stderr) => {
      if (!error) return resolve(String(stdout));
      const failure = new Error(`${file} ${args.join(' ')} failed: ${error.message}\n${stdout}${stderr}`, {
        cause: error,
      }) as Error & { code?: unknown };
      failure.code = (error as NodeJS.ErrnoException).code;
      reject(failure);
    });
  });
}
