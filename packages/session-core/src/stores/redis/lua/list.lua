-- list.lua: the live sessions of a user, oldest createdAt first (then id). Guarantees: only sessions
-- live by policy at `now` are returned, and dead entries are dropped from the index in the same step.
--
-- KEYS[1] user index.
-- Reply: flat id, u, c, a, d, g, i, r, q, kb per session.

local out = {}
for _, s in ipairs(liveSessions(KEYS[1])) do push(out, s.id, s.rec) end
return out
