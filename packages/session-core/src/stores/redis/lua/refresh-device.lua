-- refresh-device.lua: a DBSC refresh. Guarantees: only a live session opened by its current token or
-- the one its last rotation replaced (deadlines checked, a dead session ended as validate.lua ends
-- it); only a bound one, bound to this key (thumbprint `k`); only with the stored challenge before its
-- expiry, used up here (the next challenge replaces it, so a replayed proof finds 'bad_challenge' and
-- of parallel refreshes with one proof exactly one wins). Then, in one step, the current bound cookie
-- becomes the previous one (b1, bx1: it still counts until its own expiry, for requests already
-- sent with it), the new one is stored (b, bx) and the next challenge (kc, kcx). A refusal writes
-- nothing. lastActivityAt and the TTL stay as they are.
--
-- KEYS[1] session key. ARGV[3] token hash, [4] jkt, [5] challenge hash, [6] bound cookie hash,
-- [7] its expiry (ms), [8] next challenge hash, [9] its expiry (ms).
-- Reply: {1, u, c, a, d, g, i, r, q, kb} | {0, reason} | {2, reason, u, c, a, d, g, i, r, q, kb}.

local key = KEYS[1]
local rec, miss = deviceSession(key, ARGV[3])
if not rec then return miss end
local v = redis.call('HMGET', key, 'k', 'kc', 'kcx', 'b', 'bx')
if not rec.kb or not v[1] then return { 0, 'not_bound' } end
if v[1] ~= ARGV[4] then return { 0, 'wrong_key' } end
if not fresh(v[2], v[3], ARGV[5]) then return { 0, 'bad_challenge' } end
if v[4] and v[5] then
  redis.call('HSET', key, 'b1', v[4], 'bx1', v[5], 'b', ARGV[6], 'bx', ARGV[7], 'kc', ARGV[8], 'kcx', ARGV[9])
else
  redis.call('HDEL', key, 'b1', 'bx1')
  redis.call('HSET', key, 'b', ARGV[6], 'bx', ARGV[7], 'kc', ARGV[8], 'kcx', ARGV[9])
end
return pushFields({ 1 }, rec)
