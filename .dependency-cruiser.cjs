/*
 * dependency-cruiser rules, run by `pnpm check:deps` (part of `pnpm lint`, so of `pnpm check` and CI).
 *
 * 1. no-circular, everywhere (apps, packages, examples; sources, tests and scripts alike). An ESM
 *    cycle makes evaluation order depend on which module happens to be imported first: a `const`
 *    or class read during the cycle is still in its temporal dead zone, and the failure moves
 *    whenever an unrelated import is added. Type-only imports count (tsPreCompilationDeps: true):
 *    they are erased at run time, but a type cycle is still two modules that can't be understood,
 *    tested or moved apart, and it is usually one `import type` away from becoming a value cycle.
 *    Dynamic import() counts too; break a cycle by moving the shared piece down, not by hiding it.
 *
 * 2. Layers of apps/server/src. Imports point only downward; every layer may import itself and any
 *    package (node_modules, @tessera/session-core), so the rules below only look at server files:
 *
 *      composition  main.ts, cli.ts, compose.ts, demo.ts   may import anything
 *      edge         http/**                                 trpc, domain, infra, shared
 *      trpc         trpc/** (context, errors, procedures,   domain, infra, shared
 *                   routers/)
 *      domain       auth/**, users/**, sessions/**,         infra, shared (and each other)
 *                   limits/**, audit/**, metrics/**
 *      infra        infra/**                                shared
 *      shared       env.ts, logger.ts, durations.ts         shared
 *
 *    Why: composition is the only place that knows the concrete wiring (which stores, which Redis,
 *    which HTTP server), so nothing below it reaches for a process-wide instance. The edge adapts
 *    Fastify to tRPC; the tRPC layer must not need it, so routers run through createCaller with no
 *    HTTP at all (test/routers.caller.test.ts). Domain code (users, passwords, TOTP, grants, limits,
 *    session data) must not know it is served over tRPC: it throws its own errors and trpc/errors.ts
 *    maps them to tRPC codes. Infra (database, Redis, secrets) knows nothing above it: the old
 *    errors -> context -> deps -> database -> errors cycle came from infra reaching up for an error.
 *    A server file outside every layer is an error too (server-layer-unassigned-*): a new
 *    top-level file or folder must be given a layer here, or the rules would silently skip it.
 *
 * 3. no-unresolvable-relative: a relative import that does not resolve to a file. Cycles and layers
 *    are checked on the resolved graph; if resolution broke (say `.js` specifiers stopped mapping to
 *    the `.ts` sources) the graph would lose its edges and every rule above would pass vacuously.
 *
 * No tsConfig: the packages' tsconfigs differ (NodeNext on the server and packages, Bundler in
 * apps/web) and dependency-cruiser takes one. Its resolver already maps `./x.js` to `./x.ts` the way
 * tsc does, and workspace packages resolve through their package.json `exports` (the `types`
 * condition included, for `@tessera/server`'s type-only entry). Built output (dist/) is excluded,
 * so an import of @tessera/session-core from another package stops at the package boundary.
 */

const SERVER = '^apps/server/src/';
const LAYERS = {
  composition: `${SERVER}(main|cli|compose|demo)\\.ts$`,
  edge: `${SERVER}http/`,
  trpc: `${SERVER}trpc/`,
  domain: `${SERVER}(auth|users|sessions|limits|audit|metrics)/`,
  infra: `${SERVER}infra/`,
  shared: `${SERVER}(env|logger|durations)\\.ts$`,
};
const ANY_LAYER = Object.values(LAYERS);

/** A forbidden rule: files of layer `from` must not import files of the layers in `notTo`. */
function layerRule(from, notTo, comment) {
  return {
    name: `server-layer-${from}`,
    severity: 'error',
    comment,
    from: { path: LAYERS[from] },
    to: { path: notTo.map((layer) => LAYERS[layer]) },
  };
}

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment:
        'Import cycle (type-only and dynamic imports included). Move what both sides need into a module ' +
        'lower down that neither imports back.',
      from: {},
      to: { circular: true },
    },
    layerRule(
      'edge',
      ['composition'],
      'Server layers: edge (http/) may import trpc, domain, infra and shared, not composition ' +
        '(main/cli/compose/demo). Take what it needs as a parameter from compose.ts instead.',
    ),
    layerRule(
      'trpc',
      ['composition', 'edge'],
      'Server layers: trpc (trpc/) may import domain, infra and shared, not edge (http/) or composition ' +
        '(main/cli/compose/demo): procedures must run without Fastify, as createCaller runs them.',
    ),
    layerRule(
      'domain',
      ['composition', 'edge', 'trpc'],
      'Server layers: domain (auth/, users/, sessions/, limits/, audit/, metrics/) may import infra, shared and each other, ' +
        'not trpc, edge or composition. Throw a domain error and let trpc/errors.ts map it.',
    ),
    layerRule(
      'infra',
      ['composition', 'edge', 'trpc', 'domain'],
      'Server layers: infra (infra/) may import shared only (env, logger, durations), not domain, trpc, ' +
        'edge or composition.',
    ),
    layerRule(
      'shared',
      ['composition', 'edge', 'trpc', 'domain', 'infra'],
      'Server layers: shared (env.ts, logger.ts, durations.ts) may import only shared.',
    ),
    {
      name: 'server-layer-unassigned-import',
      severity: 'error',
      comment:
        'Server layers: this server file is in no layer. Move it into one (see the table at the top of ' +
        '.dependency-cruiser.cjs) or give its folder a layer there.',
      from: { path: SERVER },
      to: { path: SERVER, pathNot: ANY_LAYER },
    },
    {
      name: 'server-layer-unassigned-file',
      severity: 'error',
      comment:
        'Server layers: this server file is in no layer, so no layer rule checks what it imports. Move it ' +
        'into one (see the table at the top of .dependency-cruiser.cjs) or give its folder a layer there.',
      from: { path: SERVER, pathNot: ANY_LAYER },
      // Imports of other unassigned files are already reported by server-layer-unassigned-import.
      to: { path: ANY_LAYER },
    },
    {
      name: 'no-unresolvable-relative',
      severity: 'error',
      comment:
        'A relative import that resolves to no file: the dependency graph the other rules check is ' +
        'missing this edge.',
      from: {},
      to: { couldNotResolve: true, path: '^\\.' },
    },
  ],
  options: {
    doNotFollow: { path: '(^|/)node_modules/' },
    exclude: {
      path: '(^|/)(node_modules|dist|coverage|\\.turbo|\\.data|\\.bench|test-results|playwright-report|blob-report|out)/|^packages/bench/results/',
    },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
  },
};
