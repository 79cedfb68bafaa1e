-- validate.lua: the per-request check, one atomic step. Guarantees: a token opens the session only if
-- its hash is the current one, the record is not a tombstone and `now` is before both deadlines; then
-- lastActivityAt = now and the TTL follows the nearer deadline (+ tombstone time). A deadline miss
-- ends the session right here (tombstone + index removal) and says so once (status 2); an ended or
-- expired record is never touched back to life. Pending patches (q) are folded into d on the way.
-- A session bound to a device key (DBSC, `kb` set) opens only with a fresh bound cookie (its hash is
-- `b` before `bx`, or the previous one `b1` before `bx1`) or within bindingGraceMs of binding;
-- otherwise it answers 'device_unbound' and writes nothing (a copied session cookie must not keep the
-- session alive). Deadlines come first: a dead session ends with its reason, bound or not.
--
-- KEYS[1] session key. ARGV[3] SHA-256 of the token (base64url), [4] SHA-256 of the bound cookie
-- (base64url), absent when the request carried none.
-- Reply: {1, u, c, d, g, i, r, kb} live (a = now) | {0, reason} | {2, reason, u, c, a, d, g, i, r, q, kb}.

local key = KEYS[1]
local hash = ARGV[3]
local rec = load(key)
if rec.e then
  -- A tombstone: its h is a hint, enough to tell the same token why its session ended.
  if rec.h == hint(hash) and rec.t and NOW < tonumber(rec.t) + TOMB then return { 0, rec.e } end
  return { 0, 'unknown' }
end
if rec.h ~= hash then
  if rec.p and rec.p == hash then return { 0, 'rotated' } end
  return { 0, 'unknown' }
end

local live, miss = isLive(rec)
if not live then
  local id = idOfKey(key)
  finish(key, hash, miss, indexKey(id, rec.u), id)
  return pushFields({ 2, miss }, rec)
end

if rec.kb then
  local bound = ARGV[4]
  local v = redis.call('HMGET', key, 'b', 'bx', 'b1', 'bx1')
  if not (fresh(v[1], v[2], bound) or fresh(v[3], v[4], bound) or NOW < tonumber(rec.kb) + GRACE) then
    return { 0, 'device_unbound' }
  end
end

if rec.q then
  save(key, rec, { 'a', NOW_S, 'd', merge(rec.d, rec.q, nil) })
  drop(key, rec, 'q')
else
  redis.call('HSET', key, 'a', NOW_S)
end
redis.call('PEXPIRE', key, retention(tonumber(rec.c), NOW))
return { 1, rec.u, rec.c, rec.d, rec.g or false, rec.i or false, rec.r or false, rec.kb or false }
