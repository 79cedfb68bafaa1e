-- device-challenge.lua: stores a new DBSC challenge for a bound session (the first leg of a refresh),
-- replacing the one it had. Guarantees: only a live session opened by its current token or the one
-- its last rotation replaced (deadlines checked, a dead session ended as validate.lua ends it), and
-- only a bound one (an unbound session gets no challenge after sign-in: a copied cookie of it could
-- otherwise bind a key of its own). lastActivityAt and the TTL stay as they are.
--
-- KEYS[1] session key. ARGV[3] token hash, [4] challenge hash, [5] its expiry (ms).
-- Reply: {1, u, c, a, d, g, i, r, q, kb} | {0, reason} | {2, reason, u, c, a, d, g, i, r, q, kb}.

local key = KEYS[1]
local rec, miss = deviceSession(key, ARGV[3])
if not rec then return miss end
if not rec.kb then return { 0, 'not_bound' } end
redis.call('HSET', key, 'kc', ARGV[4], 'kcx', ARGV[5])
return pushFields({ 1 }, rec)
