/**
 * The code of the README and the guides lives in docs/examples as files. These helpers check those
 * files as a consumer would meet them: type-checked against the built package through its `exports`,
 * then run from a scratch project whose node_modules holds only the package and its drivers.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const examplesDir = join(root, 'docs/examples');

/** Every example file, relative to docs/examples. */
export function exampleFiles(): string[] {
  return (readdirSync(examplesDir, { recursive: true }) as string[])
    .filter((file) => file.endsWith('.ts'))
    .map((file) => file.split('\\').join('/'))
    .sort();
}

/** The ```ts blocks of a Markdown file, verbatim. */
export function tsBlocks(markdownFile: string): string[] {
  const text = readFileSync(markdownFile, 'utf8');
  return [...text.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
}

/** Type errors of the examples, compiled as a strict NodeNext consumer project would compile them. */
export function typeErrors(): string[] {
  const program = ts.createProgram(
    exampleFiles().map((file) => join(examplesDir, file)),
    {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      strict: true,
      noUncheckedIndexedAccess: true,
      verbatimModuleSyntax: true,
      skipLibCheck: true,
      noEmit: true,
      types: ['node'],
    },
  );
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const where = d.file
      ? `${relative(root, d.file.fileName)}:${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}`
      : '';
    return `${where} ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
  });
}

/**
 * A scratch project: package.json (ESM), node_modules with the package itself and the drivers as
 * symlinks, and every example compiled to JavaScript at its place. `remove()` deletes it.
 */
export function scratchProject(): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-docs-'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module', private: true }));
  const modules = join(dir, 'node_modules');
  mkdirSync(join(modules, '@tessera'), { recursive: true });
  mkdirSync(join(modules, '@electric-sql'), { recursive: true });
  symlinkSync(root, join(modules, '@tessera/session-core'), 'dir');
  for (const name of ['ioredis', 'pg', '@electric-sql/pglite', 'vitest']) {
    symlinkSync(realpathSync(join(root, 'node_modules', name)), join(modules, name), 'dir');
  }
  for (const file of exampleFiles()) {
    const source = readFileSync(join(examplesDir, file), 'utf8');
    const { outputText } = ts.transpileModule(source, {
      compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ES2022 },
    });
    const out = join(dir, file.replace(/\.ts$/, '.js'));
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, outputText);
  }
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A folder of the scratch project holding server.js with the chosen sessions variant as sessions.js. */
export function quickStartApp(scratch: string, variant: string): string {
  const app = join(scratch, `app-${variant}`);
  mkdirSync(app);
  cpSync(join(scratch, 'quick-start/server.js'), join(app, 'server.js'));
  cpSync(join(scratch, `quick-start/${variant}.js`), join(app, 'sessions.js'));
  return app;
}

/** The environment without vitest's own variables, so that a child runner starts afresh. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !key.startsWith('VITEST') && key !== 'NODE_OPTIONS'),
  );
  return { ...env, NODE_ENV: 'test', NO_COLOR: '1', FORCE_COLOR: '0', ...extra };
}

/** Runs `node args` to its end; resolves with the exit code and the output. */
export function runNode(
  args: string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv },
): Promise<{ code: number | null; output: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, args, { cwd: options.cwd, env: options.env ?? cleanEnv() });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('error', fail);
    child.on('close', (code) => done({ code, output }));
  });
}

/** Starts `node server.js` in `cwd`; `stop()` ends it (SIGTERM, then SIGKILL). */
export function startNode(
  file: string,
  options: { cwd: string; env: NodeJS.ProcessEnv },
): { child: ChildProcess; output: () => string; stop: () => Promise<void> } {
  const child = spawn(process.execPath, [file], { cwd: options.cwd, env: options.env });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  return {
    child,
    output: () => output,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
