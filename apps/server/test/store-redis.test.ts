import { createTestDatabase, startRedis, type TestDatabase, type TestRedis } from '@tessera/testkit';
import { storeSuite } from './helpers/store-suite.js';

let db: Promise<TestDatabase> | null = null;
let redis: Promise<TestRedis> | null = null;

// Sessions in a private redis-server, users in a fresh PostgreSQL database.
storeSuite('Redis', {
  async options() {
    db ??= createTestDatabase();
    redis ??= startRedis();
    return { databaseUrl: (await db).url, redisUrl: (await redis).url };
  },
  async cleanup() {
    await (await redis)?.stop();
    await (await db)?.drop();
  },
});
