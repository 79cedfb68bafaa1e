-- revoke-all.lua: ends every live session of a user except one, atomically: a session created or
-- touched concurrently is either ended here or was not live yet; none survives half-revoked. The
-- index is pruned on the way.
--
-- KEYS[1] user index. ARGV[3] session id to keep, or '', [4] reason.
-- Reply: the ended sessions, flat id, u, c, a, d, g, i, r, q, kb.

local index, keep, reason = KEYS[1], ARGV[3], ARGV[4]
local out = {}
for _, s in ipairs(liveSessions(index)) do
  if s.id ~= keep then
    finish(s.key, s.rec.h, reason, index, s.id)
    push(out, s.id, s.rec)
  end
end
return out
