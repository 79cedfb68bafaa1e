-- revoke.lua: ends a session by its public id on behalf of a user. Guarantees: it ends only a live
-- session whose owner (`u`) is that user, so knowing someone else's session id achieves nothing
-- (IDOR); the record becomes a tombstone and leaves the index atomically. Past a deadline it does
-- nothing (the session is already dead; the next validate ends it and reports that).
--
-- KEYS[1] session key, KEYS[2] the user's index. ARGV[3] userId, [4] reason, [5] session id.
-- Reply: {u, c, a, d, g, i, r, q, kb} (the session as it was) | nil.

local key, index, id = KEYS[1], KEYS[2], ARGV[5]
local rec = load(key)
if rec.u ~= ARGV[3] or not isLive(rec) then return false end
finish(key, rec.h, ARGV[4], index, id)
return pushFields({}, rec)
