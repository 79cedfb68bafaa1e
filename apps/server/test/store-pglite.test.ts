import { storeSuite } from './helpers/store-suite.js';

// Each app gets its own embedded database (PGlite is single-process).
storeSuite('embedded PGlite', { options: async () => ({}) });
