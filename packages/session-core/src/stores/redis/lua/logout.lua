-- logout.lua: logout. Guarantees: the current token of a live session ends it, and so does the token its
-- last rotation replaced (its full hash, kept as `p`): a logout that raced a rotation carries the old
-- cookie while the browser may end up with either, so it must end the session whichever it holds.
-- The old token can only END a session, never open or change one. The record becomes a tombstone with
-- the reason given (`logged_out`) and leaves the user's index in the same step, so no later (or racing)
-- validate or rotation can touch it back to life. Past a deadline it does nothing (the next validate
-- ends it and reports that).
--
-- KEYS[1] session key. ARGV[3] token hash, [4] reason.
-- Reply: {u, c, a, d, g, i, r, q, kb} (the session as it was) | nil.

local key = KEYS[1]
local rec = load(key)
local ours = rec.h == ARGV[3] or (rec.p ~= nil and rec.p == ARGV[3])
if not ours or not isLive(rec) then return false end
local id = idOfKey(key)
finish(key, rec.h, ARGV[4], indexKey(id, rec.u), id)
return pushFields({}, rec)
