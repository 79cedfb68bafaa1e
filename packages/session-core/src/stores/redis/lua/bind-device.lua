-- bind-device.lua: binds a session to a device key (DBSC registration), once. Guarantees: it binds
-- only a live session opened by its current token or the one its last rotation replaced (deadlines
-- checked, a dead session ended as validate.lua ends it); only while unbound (`kb` absent: a
-- compare-and-set, so of parallel binds exactly one wins, and nothing ever unbinds); only with the
-- stored challenge before its expiry, which it uses up (the next challenge takes its place). Then, in
-- one step: the key (k thumbprint, kj JWK in 64-byte pieces, ka alg), kb = now, the bound cookie (b,
-- bx) and the next challenge (kc, kcx). lastActivityAt and the TTL stay as they are: only a request
-- slides the idle clock, and these fields live in the session hash, so they expire with it.
--
-- KEYS[1] session key. ARGV[3] token hash, [4] challenge hash, [5] jkt, [6] JWK JSON, [7] alg,
-- [8] bound cookie hash, [9] its expiry (ms), [10] next challenge hash, [11] its expiry (ms).
-- Reply: {1, u, c, a, d, g, i, r, q, kb} | {0, reason} | {2, reason, u, c, a, d, g, i, r, q, kb}.

local key = KEYS[1]
local rec, miss = deviceSession(key, ARGV[3])
if not rec then return miss end
if rec.kb then return { 0, 'already_bound' } end
local v = redis.call('HMGET', key, 'kc', 'kcx')
if not fresh(v[1], v[2], ARGV[4]) then return { 0, 'bad_challenge' } end
save(key, rec, { 'k', ARGV[5], 'kj', ARGV[6], 'ka', ARGV[7], 'kb', NOW_S, 'b', ARGV[8], 'bx', ARGV[9],
  'kc', ARGV[10], 'kcx', ARGV[11] })
return pushFields({ 1 }, rec)
