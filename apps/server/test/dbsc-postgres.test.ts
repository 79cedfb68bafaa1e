import { createTestDatabase, type TestDatabase } from '@tessera/testkit';
import { dbscSuite } from './helpers/dbsc-suite.js';

let db: TestDatabase | null = null;

// Users and sessions in one fresh PostgreSQL database.
dbscSuite('PostgreSQL', {
  async options() {
    db ??= await createTestDatabase();
    return { databaseUrl: db.url };
  },
  async cleanup() {
    await db?.drop();
  },
});
