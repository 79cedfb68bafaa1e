-- lib.lua: shared prelude, prepended to every script at load time (so each operation stays ONE
-- EVALSHA). It guarantees that every script applies exactly the comparisons of src/policy.ts with the
-- caller's `now` (never Redis TIME), computes keys exactly as src/stores/redis/index.ts documents,
-- and ends sessions the same way (tombstone + index removal).
--
-- Common ARGV of every script: [1] context 'idleMs|absoluteMs|tombstoneMs|bindingGraceMs|prefix' (one
-- argument built once per policy: every argument costs the client CPU), [2] now (ms). Script-specific
-- arguments start at ARGV[3].
--
-- Keys derived here (a user's index from a session id, session keys from index members) carry the
-- same {tag} as the script's KEYS[1], so they live in the same Redis Cluster slot.

local IDLE_S, ABS_S, TOMB_S, GRACE_S, PREFIX =
  string.match(ARGV[1], '^([^|]*)|([^|]*)|([^|]*)|([^|]*)|(.*)$')
local IDLE = tonumber(IDLE_S)
local ABS = tonumber(ABS_S)
local TOMB = tonumber(TOMB_S)
-- policy.bindingGraceMs: how long after binding a request without the bound cookie still passes.
local GRACE = tonumber(GRACE_S)
local NOW_S = ARGV[2]
local NOW = tonumber(ARGV[2])

-- policy.liveness: absolute first; at the exact deadline a session is expired.
local function liveness(c, a)
  if NOW >= c + ABS then return 'absolute_timeout' end
  if NOW >= a + IDLE then return 'idle_timeout' end
  return nil
end

-- policy.retentionMs: until the nearer deadline, plus the tombstone time.
local function retention(c, a)
  return math.max(1, math.floor(math.min(a + IDLE, c + ABS) - NOW + TOMB))
end

-- Token hashes are base64url text (43 characters). Every path that opens, changes or ends a session
-- compares a full hash: `h` of a live record, or (logout only) `p`, the full hash its last rotation
-- replaced. Only a tombstone keeps a hint, its first HINT characters (48 bits) as its `h`: it only
-- decides which reason a dead token is told (its end reason instead of 'unknown'), and a tombstone can
-- never become live again, so a stranger's token matching it by chance (2^-48) would only be told
-- another reason.
local HINT = 8
local function hint(hash)
  return string.sub(hash, 1, HINT)
end

-- <prefix>s:{<tag>}<rest of id>
local function sessionKey(id)
  return PREFIX .. 's:{' .. string.sub(id, 1, 4) .. '}' .. string.sub(id, 5)
end

-- <prefix>u:{<tag>}<userId>; the tag of a session id is the tag of its user.
local function indexKey(id, userId)
  return PREFIX .. 'u:{' .. string.sub(id, 1, 4) .. '}' .. userId
end

-- The <tag> of a session key or index key (both are <prefix><letter>:{<tag>}...).
local function tagOf(key)
  return string.sub(key, #PREFIX + 4, #PREFIX + 7)
end

-- The session id inside a session key.
local function idOfKey(key)
  return tagOf(key) .. string.sub(key, #PREFIX + 9)
end

-- A session's member in its user's index: the id without its tag, which the index key already carries
-- (4 bytes less per member). Within one index every member shares that tag, so members sort as ids do.
local function memberOf(id)
  return string.sub(id, 5)
end

-- Values longer than CHUNK bytes are stored in pieces: x = bytes 1..64, x1 = 65..128, x2, ... Redis
-- keeps a hash in its compact listpack encoding only while every value is at most
-- hash-max-listpack-value bytes (default 64); a single longer value (data, or a user agent that the
-- compact encoding can't shrink) would otherwise turn the whole hash into a hashtable at about twice
-- the memory. Field names are one letter, and a piece is its letter followed by the piece number. The
-- device-binding fields (index.ts) are the exception, two or three characters: `b1` and `bx1` look
-- like pieces of `b` and `bx` but are fields of their own; `b` and `bx` (a 43-character hash, a time)
-- never need a second piece, so the names can't meet.
local CHUNK = 64

-- Joins the pieces of field f: `known` holds pieces 1.. already read (false = absent); later pieces
-- are fetched one by one (only for values longer than the read list covers).
local function joinPieces(key, rec, f, known)
  local parts, k = { rec[f] }, 1
  while true do
    local piece = known[k]
    if piece == nil then piece = redis.call('HGET', key, f .. k) end
    if not piece then break end
    k = k + 1
    parts[k] = piece
  end
  if k > 1 then
    rec[f] = table.concat(parts)
    rec._n[f] = k
  end
end

-- The whole record: rec.<letter> = value (pieces joined; nil when absent), rec._n.<letter> = number
-- of pieces when more than one. One HMGET covers every field and the pieces of typical long values
-- (ids up to 128 bytes, encoded user agents up to 192, data up to 128); longer values cost one HGET per piece.
-- Of the device-binding fields only `kb` (boundAt, part of every session returned; set = bound) is
-- read here: the device scripts and validate read the others themselves, when they need them.
-- A missing key reads as an empty record.
local function load(key)
  local v = redis.call('HMGET', key, 'h', 'u', 'c', 'a', 'd', 'g', 'i', 'r', 'q', 'e', 'p', 't',
    'u1', 'd1', 'g1', 'g2', 'i1', 'q1', 'kb')
  local rec = {
    h = v[1] or nil, u = v[2] or nil, c = v[3] or nil, a = v[4] or nil, d = v[5] or nil, g = v[6] or nil,
    i = v[7] or nil, r = v[8] or nil, q = v[9] or nil, e = v[10] or nil, p = v[11] or nil, t = v[12] or nil,
    kb = v[19] or nil, _n = {},
  }
  if v[13] then joinPieces(key, rec, 'u', { v[13] }) end
  if v[14] then joinPieces(key, rec, 'd', { v[14] }) end
  if v[15] then joinPieces(key, rec, 'g', { v[15], v[16] }) end
  if v[17] then joinPieces(key, rec, 'i', { v[17] }) end
  if v[18] then joinPieces(key, rec, 'q', { v[18] }) end
  return rec
end

-- How many pieces field f of a loaded record has.
local function pieceCount(rec, f)
  return rec._n[f] or (rec[f] and 1 or 0)
end

-- Appends HSET arguments for field f = value, in pieces; returns the number of pieces.
local function split(args, f, value)
  args[#args + 1] = f
  args[#args + 1] = string.sub(value, 1, CHUNK)
  local k = 1
  while k * CHUNK < #value do
    args[#args + 1] = f .. k
    args[#args + 1] = string.sub(value, k * CHUNK + 1, (k + 1) * CHUNK)
    k = k + 1
  end
  return k
end

-- HSET of field/value pairs, in batches (unpack has a stack limit; huge data would exceed it).
local function hset(key, args)
  for from = 1, #args, 2000 do
    redis.call('HSET', key, unpack(args, from, math.min(#args, from + 1999)))
  end
end

-- Deletes pieces from..count-1 of field f (all of it when from = 0).
local function dropPieces(key, f, from, count)
  if from >= count then return end
  local names = {}
  for k = from, count - 1 do names[#names + 1] = (k == 0) and f or (f .. k) end
  for n = 1, #names, 2000 do redis.call('HDEL', key, unpack(names, n, math.min(#names, n + 1999))) end
end

-- Writes fields {f1, v1, f2, v2, ...} of a loaded record (one HSET), dropping pieces a shorter new
-- value no longer uses, and updates rec.
local function save(key, rec, fields)
  local args = {}
  local stale = {}
  for n = 1, #fields, 2 do
    local f, value = fields[n], fields[n + 1]
    local pieces = split(args, f, value)
    local old = pieceCount(rec, f)
    if old > pieces then stale[#stale + 1] = { f, pieces, old } end
    rec[f], rec._n[f] = value, pieces
  end
  hset(key, args)
  for _, s in ipairs(stale) do dropPieces(key, s[1], s[2], s[3]) end
end

-- Deletes fields of a loaded record, with all their pieces.
local function drop(key, rec, ...)
  for _, f in ipairs({ ... }) do
    if rec[f] then
      dropPieces(key, f, 0, pieceCount(rec, f))
      rec[f], rec._n[f] = nil, nil
    end
  end
end

-- Appends a session's fields to a reply: u, c, a, d, g, i, r, q, kb (absent -> nil).
local function pushFields(out, rec)
  local n = #out
  out[n + 1], out[n + 2], out[n + 3], out[n + 4] = rec.u, rec.c, rec.a, rec.d
  out[n + 5], out[n + 6], out[n + 7], out[n + 8] = rec.g or false, rec.i or false, rec.r or false, rec.q or false
  out[n + 9] = rec.kb or false
  return out
end

-- Appends a session to a flat list reply: id, then its fields.
local function push(out, id, rec)
  out[#out + 1] = id
  return pushFields(out, rec)
end

-- true for a live record; otherwise false and, for a record past a deadline, the deadline's reason.
local function isLive(rec)
  if not rec.h or rec.e or not rec.c then return false, nil end
  local miss = liveness(tonumber(rec.c), tonumber(rec.a))
  return miss == nil, miss
end

-- Ends a session: the key becomes a tombstone {h = hint of the hash, e, t} for tombstoneMs (so a late
-- request with the same token learns why), and the id leaves the user's index. A tombstone can never
-- be revived: every script treats a record with `e` (or without `c`) as not live. The device binding
-- goes with the rest of the record: a tombstone keeps no challenge, key or bound cookie.
local function finish(key, h, reason, index, id)
  redis.call('DEL', key)
  if TOMB > 0 then
    redis.call('HSET', key, 'h', hint(h), 'e', reason, 't', NOW_S)
    redis.call('PEXPIRE', key, math.max(1, math.floor(TOMB)))
  end
  redis.call('ZREM', index, memberOf(id))
end

-- Device binding (DBSC): a stored one-time secret, the values of its hash field and of its expiry
-- field (absent: false or nil), counts for `hash` (base64url, as stored) strictly before its expiry.
local function fresh(stored, expiresAt, hash)
  if not stored or not expiresAt or stored ~= hash then return false end
  return NOW < tonumber(expiresAt)
end

-- The session a device call is about (bind-device.lua, device-challenge.lua, device-key.lua,
-- refresh-device.lua), checked as validate.lua checks it but for two things: the token the last
-- rotation replaced (`p`, in full) opens it too, as for logout (a DBSC refresh may race a rotation),
-- and it is never touched (only a request slides the idle clock). Returns the record of a live
-- session; otherwise nil and the reply: {0, reason} for an unknown token or an ended session (a
-- tombstone tells the token it ended its reason, as validate.lua does), or {2, reason, u, c, a, d, g,
-- i, r, q, kb} when this very call found the session past a deadline and ended it.
local function deviceSession(key, hash)
  local rec = load(key)
  if rec.e then
    if rec.h == hint(hash) and rec.t and NOW < tonumber(rec.t) + TOMB then return nil, { 0, rec.e } end
    return nil, { 0, 'unknown' }
  end
  if not rec.h or (rec.h ~= hash and rec.p ~= hash) then return nil, { 0, 'unknown' } end
  local live, miss = isLive(rec)
  if live then return rec, nil end
  if not miss then return nil, { 0, 'unknown' } end -- no createdAt: not a session this store wrote
  local id = idOfKey(key)
  finish(key, rec.h, miss, indexKey(id, rec.u), id)
  return nil, pushFields({ 2, miss }, rec)
end

-- The live sessions of a user index, in index order (createdAt, then id). Every other member (key
-- expired, tombstoned, or past a deadline by policy) is removed from the index on the way, so the
-- index never keeps ghosts. Sessions past a deadline are left as they are: their key expires by TTL,
-- and a late validate still ends them with the right reason.
local function liveSessions(index)
  redis.call('ZREMRANGEBYSCORE', index, '-inf', NOW - ABS)
  local live = {}
  local tag = tagOf(index)
  for _, member in ipairs(redis.call('ZRANGE', index, 0, -1)) do
    local id = tag .. member
    local key = sessionKey(id)
    local rec = load(key)
    if isLive(rec) then
      live[#live + 1] = { id = id, key = key, rec = rec }
    else
      redis.call('ZREM', index, member)
    end
  end
  return live
end

-- Shallow JSON merge on text, exact for what JSON.stringify writes (compact, no whitespace): the
-- result equals JSON.stringify({...d, ...q1, ..., ...patch}) up to key order. Values are copied as
-- text, never decoded, so numbers and nested structures keep their exact form (cjson would not).

-- Index just past the JSON string that opens at s[i] == '"'.
local function skipString(s, i)
  local j = i + 1
  while true do
    local k = string.find(s, '["\\]', j)
    if not k then error('tessera: malformed JSON string') end
    if string.byte(s, k) == 34 then return k + 1 end
    j = k + 2
  end
end

-- Index just past the JSON value that starts at s[i].
local function skipValue(s, i)
  local b = string.byte(s, i)
  if b == 34 then return skipString(s, i) end
  if b ~= 123 and b ~= 91 then
    return string.find(s, '[,}%]]', i) or (#s + 1)
  end
  local depth, j = 0, i
  while true do
    local k = string.find(s, '["{}%[%]]', j)
    if not k then error('tessera: malformed JSON value') end
    local ch = string.byte(s, k)
    if ch == 34 then
      j = skipString(s, k)
    elseif ch == 123 or ch == 91 then
      depth, j = depth + 1, k + 1
    else
      depth, j = depth - 1, k + 1
      if depth == 0 then return j end
    end
  end
end

-- Calls put(keyText, valueText) for each member of the object that opens at s[i] == '{'.
-- Returns the index just past its closing '}'.
local function eachMember(s, i, put)
  if string.byte(s, i) ~= 123 then error('tessera: JSON object expected') end
  local j = i + 1
  if string.byte(s, j) == 125 then return j + 1 end
  while true do
    local keyEnd = skipString(s, j)
    local valueEnd = skipValue(s, keyEnd + 1)
    put(string.sub(s, j, keyEnd - 1), string.sub(s, keyEnd + 1, valueEnd - 1))
    if string.byte(s, valueEnd) == 125 then return valueEnd + 1 end
    j = valueEnd + 1
  end
end

-- d: data object; q: comma-joined patch objects or false; patch: one object, '' or nil.
local function merge(d, q, patch)
  local order, values = {}, {}
  local function put(k, v)
    if values[k] == nil then order[#order + 1] = k end
    values[k] = v
  end
  eachMember(d, 1, put)
  if q then
    local i = 1
    while i <= #q do i = eachMember(q, i, put) + 1 end
  end
  if patch and patch ~= '' then eachMember(patch, 1, put) end
  local parts = {}
  for n, k in ipairs(order) do parts[n] = k .. ':' .. values[k] end
  return '{' .. table.concat(parts, ',') .. '}'
end

-- ---------------------------------------------------------------------------------------------------
