/**
 * A private Tessera stack for the soak and fuzz runs: its own redis-server on a free port, a fresh
 * PostgreSQL database (on DATABASE_URL or the local server at 127.0.0.1:5432, dropped afterwards)
 * and the built server as a child process (scripts/test-server.mjs). Nothing shared is touched.
 */
import { createTestDatabase, startRedis, type TestDatabase, type TestRedis } from '@tessera/testkit';
import {
  type ChildServer,
  type ChildServerOptions,
  startChildServer,
  userAdmin,
} from '../../test/helpers/child-server.js';

export interface Stack {
  server: ChildServer;
  redis: TestRedis;
  db: TestDatabase;
  admin: ReturnType<typeof userAdmin>;
  stop(): Promise<void>;
}

export async function startStack(options: ChildServerOptions = {}): Promise<Stack> {
  const [db, redis] = await Promise.all([createTestDatabase(), startRedis()]);
  let server: ChildServer;
  try {
    server = await startChildServer({
      ...options,
      env: { DATABASE_URL: db.url, REDIS_URL: redis.url, LOG_LEVEL: 'warn', ...options.env },
    });
  } catch (error) {
    await redis.stop();
    await db.drop();
    throw error;
  }
  const admin = userAdmin(db.url);
  return {
    server,
    redis,
    db,
    admin,
    async stop() {
      await server.stop().catch(() => {});
      await admin.close().catch(() => {});
      await redis.stop().catch(() => {});
      await db.drop().catch(() => {});
    },
  };
}

/** `--name value` or `--name=value` from argv, else the environment variable, else the fallback. */
export function option(argv: string[], name: string, env: string | undefined, fallback: string): string {
  const i = argv.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (i !== -1) {
    const arg = argv[i]!;
    return arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : (argv[i + 1] ?? fallback);
  }
  return env ?? fallback;
}
