-- end.lua: logout. Guarantees: only the current token of a live session ends it; the record becomes a
-- tombstone with the given reason and leaves the user's index in the same step, so no later (or
-- racing) validate can touch it back to life. Past a deadline it does nothing (the next validate
-- ends it and reports that).
--
-- KEYS[1] session key. ARGV[3] token hash, [4] reason.
-- Reply: {u, c, a, d, g, i, r, q} (the session as it was) | nil.

local key = KEYS[1]
local rec = load(key)
if rec.h ~= ARGV[3] or not isLive(rec) then return false end
local id = idOfKey(key)
finish(key, rec.h, ARGV[4], indexKey(id, rec.u), id)
return pushFields({}, rec)
