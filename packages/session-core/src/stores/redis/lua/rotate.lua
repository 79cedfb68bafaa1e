-- rotate.lua: replaces the token of a live session atomically. Guarantees: only the current token
-- (not a rotated or ended one, not past a deadline) can rotate, so of parallel rotations of one token
-- exactly one wins; the old hash is kept in full as `p` (the old token reads as 'rotated', and a
-- logout with it still ends the session, see logout.lua);
-- lastActivityAt = now; data = d + pending patches + dataPatch; rotatePending and q are cleared; id,
-- createdAt, metadata, the index entry and the device binding (DBSC) stay. Past a deadline it does nothing (the next validate ends
-- it and reports that).
--
-- KEYS[1] session key. ARGV[3] old hash, [4] new hash (base64url), [5] data patch JSON or ''.
-- Reply: {u, c, d, g, i, kb} (a = now, r cleared) | nil.

local key = KEYS[1]
local rec = load(key)
if rec.h ~= ARGV[3] or not isLive(rec) then return false end

local d = rec.d
if rec.q or ARGV[5] ~= '' then d = merge(d, rec.q, ARGV[5]) end
save(key, rec, { 'h', ARGV[4], 'p', rec.h, 'a', NOW_S, 'd', d })
drop(key, rec, 'q', 'r')
redis.call('PEXPIRE', key, retention(tonumber(rec.c), NOW))
return { rec.u, rec.c, d, rec.g or false, rec.i or false, rec.kb or false }
