/**
 * Compiled by `tsc --noEmit` (`pnpm typecheck`), never run: the contract suite's `test` option takes
 * the functions of node:test (`before`/`after`) and of vitest (`beforeAll`/`afterAll`) as they come,
 * and refuses a set without hooks. The suite really running under node:test is test/docs.test.ts.
 */
import * as nodeTest from 'node:test';
import * as vitest from 'vitest';
import { memoryStore } from '../src/stores/memory.js';
import { runSessionStoreContract, type TestApi } from '../src/testing/index.js';

const setup = async () => ({ store: memoryStore() });

export function underNodeTest(): void {
  const { describe, it, before, after } = nodeTest;
  runSessionStoreContract({ name: 'memory', setup, test: { describe, it, before, after } });
}

export function underVitest(): void {
  const { describe, it, beforeAll, afterAll } = vitest;
  runSessionStoreContract({ name: 'memory', setup, test: { describe, it, beforeAll, afterAll } });
}

// @ts-expect-error: the hooks are required, under one naming or the other
export const withoutHooks: TestApi = { describe: nodeTest.describe, it: nodeTest.it };
