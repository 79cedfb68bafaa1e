/**
 * The package as a consumer sees it (after `pnpm build`): every subpath export points at files that
 * exist, each entry exports exactly its documented API (internals such as token parsing and hashing
 * stay off it), and importing the core loads no database driver (drivers are optional peers).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  exports: Record<string, string | { types: string; default: string }>;
};

/** Every module reachable from `file` by static imports, with the bare (package) specifiers seen. */
function importGraph(file: string, seen = new Set<string>(), bare = new Set<string>()) {
  if (seen.has(file)) return { seen, bare };
  seen.add(file);
  const source = readFileSync(file, 'utf8');
  for (const match of source.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]/gm)) {
    const specifier = match[1]!;
    if (specifier.startsWith('.')) importGraph(resolve(dirname(file), specifier), seen, bare);
    else bare.add(specifier);
  }
  return { seen, bare };
}

describe('@tessera/session-core as published', () => {
  it('was built (run `pnpm --filter @tessera/session-core build`)', () => {
    expect(existsSync(join(root, 'dist/index.js')), 'dist/ is missing: run pnpm build first').toBe(true);
  });

  for (const [subpath, target] of Object.entries(manifest.exports)) {
    if (typeof target === 'string') continue;
    it(`export "${subpath}" points at files that exist`, () => {
      expect(existsSync(join(root, target.types)), target.types).toBe(true);
      expect(existsSync(join(root, target.default)), target.default).toBe(true);
    });
  }

  it('the core entry imports no driver; each store imports only node built-ins and type-only drivers', () => {
    const core = importGraph(join(root, 'dist/index.js'));
    expect([...core.bare].filter((s) => !s.startsWith('node:'))).toEqual([]);
    for (const store of [
      'dist/stores/redis/index.js',
      'dist/stores/sql/postgres.js',
      'dist/stores/sql/pglite.js',
    ]) {
      const graph = importGraph(join(root, store));
      expect(
        [...graph.bare].filter((s) => !s.startsWith('node:')),
        store,
      ).toEqual([]);
    }
  });

  it('ships the Lua scripts beside the compiled Redis store', () => {
    expect(existsSync(join(root, 'dist/stores/redis/lua/validate.lua'))).toBe(true);
  });

  // What each entry exports at run time (its types aside). A change here is a change of the public
  // API: the README, the CHANGELOG and semver follow it.
  const runtimeExports: Record<string, string[]> = {
    '.': [
      'SessionConfigError',
      'SessionError',
      'SessionLimitError',
      'SessionStoreError',
      'blankCookie',
      'createSessionManager',
      'isBindableOrigin',
      'parseDuration',
      'readCookie',
      'serializeCookie',
    ],
    './redis': ['redisKeys', 'redisScripts', 'redisStore'],
    './postgres': ['migrate', 'migrationSql', 'postgresExecutor', 'postgresStore'],
    './pglite': ['migrate', 'migrationSql', 'pgliteExecutor', 'pgliteStore'],
    './memory': ['memoryStore'],
    './testing': ['DbscBrowser', 'makeDbscKey', 'runSessionStoreContract', 'signDbscProof'],
  };

  for (const [subpath, names] of Object.entries(runtimeExports)) {
    it(`"${subpath}" exports exactly ${names.join(', ')}`, async () => {
      const target = manifest.exports[subpath];
      expect(target, `${subpath} is in the exports map`).toBeTypeOf('object');
      const module = (await import(join(root, (target as { default: string }).default))) as object;
      expect(Object.keys(module).sort()).toEqual([...names].sort());
    });
  }

  it('keeps token parsing and hashing, constant-time compare and the policy internals off the root', async () => {
    const core = (await import(join(root, 'dist/index.js'))) as Record<string, unknown>;
    for (const internal of [
      'parseToken',
      'hashToken',
      'constantTimeEqual',
      'isSessionId',
      'liveness',
      'deadlines',
    ]) {
      expect(core[internal], internal).toBeUndefined();
    }
  });
});
