-- patch.lua: shallow-merges a patch into the data of the live session this token opens. Guarantees:
-- nothing is written unless the token is current and the session live; data becomes d + pending
-- patches + patch in one step (q cleared). lastActivityAt, the TTL and rotatePending are unchanged.
-- Past a deadline it does nothing (the next validate ends it and reports that).
--
-- KEYS[1] session key. ARGV[3] token hash, [4] patch JSON.
-- Reply: {u, c, a, d, g, i, r, q, kb} (q always nil: folded into d) | nil.

local key = KEYS[1]
local rec = load(key)
if rec.h ~= ARGV[3] or not isLive(rec) then return false end

save(key, rec, { 'd', merge(rec.d, rec.q, ARGV[4]) })
drop(key, rec, 'q')
return pushFields({}, rec)
