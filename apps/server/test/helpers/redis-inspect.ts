import { userTag } from '@tessera/session-core';
import type { Redis } from 'ioredis';

/**
 * Reads a user's session state straight from Redis, in ONE atomic step (a script), following the key
 * layout in packages/session-core/README.md: `<prefix>s:{<tag>}<rest of id>` (hash; `h` = token hash
 * of a live session, `e` = end reason of a tombstone, `u` = userId) and `<prefix>u:{<tag>}<userId>`
 * (sorted set of ids without their tag). For tests only: it uses KEYS over a small private Redis.
 */
const SNAPSHOT = `local members = redis.call('ZRANGE', KEYS[1], 0, -1)
local live, ended = {}, {}
for _, k in ipairs(redis.call('KEYS', ARGV[1])) do
  local v = redis.call('HMGET', k, 'h', 'e', 'u')
  if v[2] then table.insert(ended, k)
  elseif v[1] and v[3] == ARGV[2] then table.insert(live, k) end
end
return {members, live, ended}`;

export interface UserSessionState {
  /** Session ids in the user's index. */
  indexed: string[];
  /** Ids of live session records of the user. */
  live: string[];
  /** Ids of tombstones with the user's tag (any user sharing the tag). */
  ended: string[];
}

export async function userSessionState(
  redis: Redis,
  userId: string,
  prefix = 'tessera:',
): Promise<UserSessionState> {
  const tag = userTag(userId);
  const sessionPrefix = `${prefix}s:{${tag}}`;
  const [members, live, ended] = (await redis.eval(
    SNAPSHOT,
    1,
    `${prefix}u:{${tag}}${userId}`,
    `${sessionPrefix}*`,
    userId,
  )) as [string[], string[], string[]];
  const id = (key: string) => tag + key.slice(sessionPrefix.length);
  return {
    indexed: members.map((m) => tag + m).sort(),
    live: live.map(id).sort(),
    ended: ended.map(id).sort(),
  };
}
