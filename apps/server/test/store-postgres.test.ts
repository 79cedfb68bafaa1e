import { createTestDatabase, type TestDatabase } from '@tessera/testkit';
import { storeSuite } from './helpers/store-suite.js';

let db: TestDatabase | null = null;

// Users and sessions in one fresh PostgreSQL database, shared by the suite's apps.
storeSuite('PostgreSQL', {
  async options() {
    db ??= await createTestDatabase();
    return { databaseUrl: db.url };
  },
  async cleanup() {
    await db?.drop();
  },
});
