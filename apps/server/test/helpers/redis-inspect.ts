import type { Redis } from 'ioredis';

/**
 * Reads a user's session state straight from Redis, in ONE atomic step (a script), following the key
 * layout in packages/session-core/README.md: `<prefix>s:{<tag>}<rest of id>` (hash; `h` = token hash
 * of a live session, `e` = end reason of a tombstone, `u` = userId) and `<prefix>u:{<tag>}<userId>`
 * (sorted set of ids without their tag). The tag is keyed with the server's secret, so the script
 * doesn't compute it: it finds the user's index keys (any tag) and the live records whose `u` is the
 * user (any tag), so a session outside its user's index shows up as live but not indexed.
 * For tests only: it uses KEYS over a small private Redis.
 */
const SNAPSHOT = `local prefix, user = ARGV[1], ARGV[2]
local tags, indexed, live, tombstones = {}, {}, {}, {}
local function tagOf(key) return string.sub(key, #prefix + 4, #prefix + 7) end
for _, k in ipairs(redis.call('KEYS', ARGV[3])) do
  local tag = tagOf(k)
  if k == prefix .. 'u:{' .. tag .. '}' .. user then
    tags[tag] = true
    for _, m in ipairs(redis.call('ZRANGE', k, 0, -1)) do table.insert(indexed, tag .. m) end
  end
end
for _, k in ipairs(redis.call('KEYS', prefix .. 's:*')) do
  local v = redis.call('HMGET', k, 'h', 'e', 'u')
  local tag = tagOf(k)
  local id = tag .. string.sub(k, #prefix + 9)
  if v[2] then table.insert(tombstones, { tag, id })
  elseif v[1] and v[3] == user then
    tags[tag] = true
    table.insert(live, id)
  end
end
local ended = {}
for _, t in ipairs(tombstones) do if tags[t[1]] then table.insert(ended, t[2]) end end
return {indexed, live, ended}`;

export interface UserSessionState {
  /** Session ids in the user's index (in every index key of the user, should there be several). */
  indexed: string[];
  /** Ids of live session records of the user. */
  live: string[];
  /** Ids of tombstones with the user's tag (any user sharing the tag). */
  ended: string[];
}

/** `text` as a KEYS pattern that matches only itself. */
const literal = (text: string) => text.replace(/[*?[\]\\]/g, '\\$&');

export async function userSessionState(
  redis: Redis,
  userId: string,
  prefix = 'tessera:',
): Promise<UserSessionState> {
  const [indexed, live, ended] = (await redis.eval(
    SNAPSHOT,
    0,
    prefix,
    userId,
    `${literal(prefix)}u:{*}${literal(userId)}`,
  )) as [string[], string[], string[]];
  return { indexed: indexed.sort(), live: live.sort(), ended: ended.sort() };
}
