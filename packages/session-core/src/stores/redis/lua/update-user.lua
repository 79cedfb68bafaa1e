-- update-user.lua: applies a data patch (and optionally a forced rotation) to every live session of a
-- user in one atomic step, so the very next validate or list of any of them sees it. The patch is
-- appended to `q` (comma-joined objects, applied in order after d) instead of being merged here:
-- validate, rotate and patch fold q into d later.
--
-- KEYS[1] user index. ARGV[3] patch JSON or '', [4] '1' to set rotatePending.
-- Reply: the number of sessions updated.

local patch, rotate = ARGV[3], ARGV[4] == '1'
local live = liveSessions(KEYS[1])
for _, s in ipairs(live) do
  local fields = {}
  if patch ~= '' then
    table.insert(fields, 'q')
    table.insert(fields, s.rec.q and (s.rec.q .. ',' .. patch) or patch)
  end
  if rotate then
    table.insert(fields, 'r')
    table.insert(fields, '1')
  end
  if #fields > 0 then save(s.key, s.rec, fields) end
end
return #live
