// users.ts: a table of your own, on the SQL executor the session stores run on
import type { SqlExecutor } from '@tessera/session-core/postgres';

// A type alias, not an interface: a row type must fit Record<string, unknown>, and only aliases do.
export type User = {
  id: string;
  name: string;
};

/** The same code over PostgreSQL (`postgresExecutor(pool)`) and PGlite (`pgliteExecutor(db)`). */
export function usersTable(db: SqlExecutor) {
  return {
    migrate: () =>
      db.script(`
        CREATE TABLE IF NOT EXISTS users (id text PRIMARY KEY, name text NOT NULL);
        CREATE TABLE IF NOT EXISTS user_events (user_id text NOT NULL, what text NOT NULL);`),

    async find(id: string): Promise<User | null> {
      const [user] = await db.query<User>('SELECT id, name FROM users WHERE id = $1', [id]);
      return user ?? null;
    },

    // Both writes or neither: commits when the callback resolves, rolls back when it throws.
    rename: (id: string, name: string) =>
      db.transaction(async (tx) => {
        const renamed = await tx.query('UPDATE users SET name = $2 WHERE id = $1 RETURNING id', [id, name]);
        if (renamed.length === 0) throw new Error(`no user ${id}`);
        await tx.query(`INSERT INTO user_events (user_id, what) VALUES ($1, 'renamed')`, [id]);
      }),
  };
}
