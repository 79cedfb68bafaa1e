import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryStore } from '../src/stores/memory.js';
import { runSessionStoreContract } from '../src/testing/index.js';

runSessionStoreContract({
  name: 'memory',
  setup: async () => ({ store: memoryStore() }),
  test: { describe, it, beforeAll, afterAll },
});

describe('memoryStore', () => {
  it('refuses to exist in production', () => {
    const previous = process.env.NODE_ENV;
    process.env.NODE_ENV = 'production';
    try {
      expect(() => memoryStore()).toThrow(/tests only/);
    } finally {
      process.env.NODE_ENV = previous;
    }
  });
});
