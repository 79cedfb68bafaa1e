/**
 * Test helpers shared by the session-core and server suites: real services, private to each test
 * file, started and stopped without blocking the event loop.
 */
export { freePort } from './ports.js';
export { createTestDatabase, type TestDatabase } from './postgres.js';
export { type PrivatePostgres, startPrivatePostgres } from './private-postgres.js';
export { onProcessEnd } from './process-end.js';
export { startRedis, type TestRedis, type TestRedisOptions } from './redis.js';
export {
  startRedisCluster,
  type TestRedisCluster,
  type TestRedisClusterOptions,
  type TestRedisShard,
} from './redis-cluster.js';
