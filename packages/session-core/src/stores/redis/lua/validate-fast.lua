-- validate-fast.lua: the common case of validate.lua, placed IN FRONT of lib.lua and validate.lua in
-- the validate script (still one EVALSHA). A live session whose token hash matches, with no pending
-- patch (q), not a tombstone, no value beyond what one HMGET covers and, when bound to a device key,
-- a fresh bound cookie (or the grace after binding), is touched and returned here, before the shared
-- prelude has created a single helper: the per-request check pays for one HMGET, one HSET, one
-- PEXPIRE and nothing else. Every other case (a miss, a tombstone, a deadline passed, a pending
-- patch, a value in more pieces, a bound session without a fresh bound cookie) falls through,
-- untouched, to the general script below, which reads the record again and decides exactly as it
-- always has. So this block may only ever return what validate.lua would return for the same record
-- and `now`; it never decides a miss.
--
-- ARGV as validate.lua: [1] 'idleMs|absoluteMs|tombstoneMs|bindingGraceMs|prefix', [2] now, [3] token
-- hash, [4] bound cookie hash or absent.
-- Reply: {1, u, c, d, g, i, r, kb} (as validate.lua's live reply), or it falls through.

local fv = redis.call('HMGET', KEYS[1], 'h', 'u', 'c', 'a', 'd', 'g', 'i', 'r', 'q', 'e', 'u1', 'd1', 'd2',
  'g1', 'i1', 'q1', 'kb', 'b', 'bx', 'b1', 'bx1')
if not fv[1] then return { 0, 'unknown' } end -- no record at all (validate.lua: 'unknown' too)
if fv[1] == ARGV[3] and fv[2] and fv[3] and fv[4] and fv[5] and not (fv[9] or fv[10] or fv[11]
    or fv[13] or fv[14] or fv[15] or fv[16]) then
  local fidle, fabs, ftomb, fgrace = string.match(ARGV[1], '^([^|]*)|([^|]*)|([^|]*)|([^|]*)|')
  local fnow = tonumber(ARGV[2])
  local fabsEnd = tonumber(fv[3]) + tonumber(fabs)
  local fidleEnd = tonumber(fv[4]) + tonumber(fidle)
  -- policy.liveness: live strictly before both deadlines; and validate.lua's bound rule when bound
  -- (kb): the bound cookie's hash is b before bx, or b1 before bx1, or now is within the grace.
  local fbound = ARGV[4]
  if fnow < fabsEnd and fnow < fidleEnd and (not fv[17]
      or (fbound and fbound == fv[18] and fv[19] and fnow < tonumber(fv[19]))
      or (fbound and fbound == fv[20] and fv[21] and fnow < tonumber(fv[21]))
      or fnow < tonumber(fv[17]) + tonumber(fgrace)) then
    redis.call('HSET', KEYS[1], 'a', ARGV[2])
    -- policy.retentionMs with a = now: until the nearer deadline, plus the tombstone time.
    redis.call('PEXPIRE', KEYS[1],
      math.max(1, math.floor(math.min(fnow + tonumber(fidle), fabsEnd) - fnow + tonumber(ftomb))))
    local fd = fv[5]
    if fv[12] then fd = fd .. fv[12] end
    return { 1, fv[2], fv[3], fd, fv[6] or false, fv[7] or false, fv[8] or false, fv[17] }
  end
end
