-- device-key.lua: the device key a bound session bound (to verify a refresh proof against).
-- Guarantees: only a live, bound session opened by its current token or the one its last rotation
-- replaced; it writes nothing, except to end a session found past a deadline (as validate.lua does).
--
-- KEYS[1] session key. ARGV[3] token hash.
-- Reply: {1, u, c, a, d, g, i, r, q, kb, k, kj, ka} | {0, reason} | {2, reason, u, c, a, d, g, i, r, q, kb}.

local key = KEYS[1]
local rec, miss = deviceSession(key, ARGV[3])
if not rec then return miss end
-- The JWK is kept in pieces (kj, kj1, ...): this HMGET covers a P-256 key (2 pieces) and an RSA-2048
-- one (7); a longer key costs one HGET per further piece.
local v = redis.call('HMGET', key, 'k', 'ka', 'kj', 'kj1', 'kj2', 'kj3', 'kj4', 'kj5', 'kj6')
if not rec.kb or not v[1] or not v[2] or not v[3] then return { 0, 'not_bound' } end
rec.kj = v[3]
joinPieces(key, rec, 'kj', { v[4], v[5], v[6], v[7], v[8], v[9] })
local out = pushFields({ 1 }, rec)
out[#out + 1], out[#out + 2], out[#out + 3] = v[1], rec.kj, v[2]
return out
