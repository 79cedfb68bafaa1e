// map-store.test.ts, under node:test (`node --test`)
import { after, before, describe, it } from 'node:test';
import { runSessionStoreContract } from '@tessera/session-core/testing';
import { mapStore } from './map-store.js';

runSessionStoreContract({
  name: 'map store',
  // Connect here and hand back a teardown that disconnects, e.g.
  // `const client = await connect(); return { store: myStore({ client }), teardown: () => client.end() };`
  setup: async () => ({ store: mapStore() }),
  test: { describe, it, before, after },
});
