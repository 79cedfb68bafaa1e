/** The shape of a test runner, as the contract suites take it (vitest, jest, node:test). */

/** A test body or hook: the suite's functions take no arguments and may be async. */
export type TestFn = () => Promise<void> | void;

/**
 * The test functions of your runner. vitest and jest: `{ describe, it, beforeAll, afterAll }`;
 * node:test: `{ describe, it, before, after }` (import them from 'node:test').
 */
export type TestApi = {
  describe: (name: string, fn: () => void) => unknown;
  /** `timeout` (ms) is passed to runners that take one as the third argument (vitest, jest). */
  it: (name: string, fn: TestFn, timeout?: number) => unknown;
} & (
  | {
      beforeAll: (fn: TestFn, timeout?: number) => unknown;
      afterAll: (fn: TestFn, timeout?: number) => unknown;
    }
  | {
      /** node:test's hooks: no timeout argument (node:test has none by default). */
      before: (fn: TestFn) => unknown;
      after: (fn: TestFn) => unknown;
    }
);
