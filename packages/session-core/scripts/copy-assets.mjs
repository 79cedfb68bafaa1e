// tsc only emits .js; the Lua scripts and SQL migrations are read at run time, so ship them beside it.
import { cpSync, readdirSync } from 'node:fs';

for (const dir of ['stores/redis/lua', 'stores/sql/migrations']) {
  const from = new URL(`../src/${dir}/`, import.meta.url);
  const to = new URL(`../dist/${dir}/`, import.meta.url);
  if (readdirSync(from).length > 0) cpSync(from, to, { recursive: true });
}
