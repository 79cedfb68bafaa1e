// map-store.test.ts, under vitest (`vitest run`)
import { runSessionStoreContract } from '@tessera/session-core/testing';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { mapStore } from './map-store.js';

runSessionStoreContract({
  name: 'map store',
  setup: async () => ({ store: mapStore() }),
  test: { describe, it, beforeAll, afterAll },
});
