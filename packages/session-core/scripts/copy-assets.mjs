// tsc only emits .js; the Lua scripts are read at run time, so ship them beside it. (The SQL schema is
// TypeScript, src/stores/sql/schema.ts, so that it can take a table name.)
import { cpSync, readdirSync } from 'node:fs';

for (const dir of ['stores/redis/lua']) {
  const from = new URL(`../src/${dir}/`, import.meta.url);
  const to = new URL(`../dist/${dir}/`, import.meta.url);
  if (readdirSync(from).length > 0) cpSync(from, to, { recursive: true });
}
