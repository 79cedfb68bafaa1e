-- create.lua: inserts a session atomically with the per-user limit. Guarantees: the user's index is
-- pruned first (no ghosts), so the limit counts live sessions only; at the limit it either ends the
-- least recently active live sessions as 'evicted' (status 1, they are returned) or inserts nothing
-- (status 0, the live sessions are returned). Because the whole script runs atomically, any number of
-- parallel creates for one user leave at most `max` live sessions, and the index equals that set.
--
-- KEYS[1] user index, KEYS[2] new session key.
-- ARGV[3] id, [4] max, [5] 'evict-oldest' | 'reject', [6] createdAt, [7..] field/value pairs (among
-- them kc, kcx: the DBSC registration challenge offered with this sign-in, in the same write).
-- Reply: {1, evicted sessions...} | {0, live sessions...}; sessions as flat id, u, c, a, d, g, i, r, q, kb.

local index, key = KEYS[1], KEYS[2]
local id, max, createdAt = ARGV[3], tonumber(ARGV[4]), ARGV[6]

local live = liveSessions(index)
local out = { 1 }
if #live >= max then
  if ARGV[5] == 'reject' then
    out[1] = 0
    for _, s in ipairs(live) do push(out, s.id, s.rec) end
    return out
  end
  -- Least recently active first; createdAt then id make the order total.
  table.sort(live, function(x, y)
    local ax, ay = tonumber(x.rec.a), tonumber(y.rec.a)
    if ax ~= ay then return ax < ay end
    local cx, cy = tonumber(x.rec.c), tonumber(y.rec.c)
    if cx ~= cy then return cx < cy end
    return x.id < y.id
  end)
  for n = 1, #live - max + 1 do
    local s = live[n]
    finish(s.key, s.rec.h, 'evicted', index, s.id)
    push(out, s.id, s.rec)
  end
end

-- A fresh record (DEL first: nothing of an older key with this id may survive).
redis.call('DEL', key)
local args = {}
for n = 7, #ARGV, 2 do split(args, ARGV[n], ARGV[n + 1]) end
hset(key, args)
redis.call('PEXPIRE', key, retention(tonumber(createdAt), NOW))
redis.call('ZADD', index, createdAt, memberOf(id))
-- The newest member has the furthest deadline: the index outlives every session it lists.
local indexTtl = math.max(1, math.floor(tonumber(createdAt) + ABS - NOW + TOMB))
if redis.call('PTTL', index) < indexTtl then redis.call('PEXPIRE', index, indexTtl) end
return out
