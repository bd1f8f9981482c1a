package redis

import goredis "github.com/redis/go-redis/v9"

// The Lua scripts that make every save one atomic round trip. go-redis's
// Script.Run sends EVALSHA and falls back to EVAL when the server answers
// NOSCRIPT (after a restart or SCRIPT FLUSH), so the source crosses the wire
// only then.
//
// Times are Unix nanoseconds in decimal. They do not fit a Lua number (a
// double) exactly, so the scripts compare them as text (lib.before) and only
// subtract them where a sub-microsecond error does not matter (the TTL).

// lib is prepended to every script.
const lib = `
-- before(a, b): a < b for decimal integers without sign or leading zeros.
local function before(a, b)
  if #a ~= #b then return #a < #b end
  return a < b
end

-- live: the record's deadline, the earlier of its idle and absolute
-- deadlines, is after now. A hash without an idle deadline is not ours.
local function live(idle, expires, now)
  if not idle then return false end
  local deadline = idle
  if expires and expires ~= '0' and before(expires, idle) then deadline = expires end
  return before(now, deadline)
end

-- ttl: milliseconds until the earlier deadline, at least 1, as text.
local function ttl(idlettl, expires, now)
  local t = tonumber(idlettl)
  if expires and expires ~= '0' then
    local e = math.ceil((tonumber(expires) - tonumber(now)) / 1000000)
    if e < t then t = e end
  end
  if t < 1 then t = 1 end
  return string.format('%d', t)
end

-- index adds id to the principal's set (a key of the principal index:
-- principals.go) and keeps the set's TTL at least ms, so it outlives every
-- session in it. The sets are not in KEYS: the index is kept on a single
-- server or Sentinel only, where a script may reach any key.
local function index(set, id, ms)
  redis.call('SADD', set, id)
  if redis.call('PTTL', set) < tonumber(ms) then redis.call('PEXPIRE', set, ms) end
end

-- chunked runs cmd key args[from..] in slices of 1000 arguments (an even
-- number, so HSET pairs stay whole): unpack is bounded by the Lua C stack.
local function chunked(cmd, key, args, from)
  local i = from
  while i <= #args do
    local last = math.min(i + 999, #args)
    redis.call(cmd, key, unpack(args, i, last))
    i = last + 1
  end
end
`

// Results of patchScript and renewScript: {code, size}.
const (
	resultMissing  = 0 // the session does not exist, has expired or is not a session hash
	resultApplied  = 1
	resultTooLarge = 2 // size: what the session would have grown to
	resultTaken    = 3 // the renew target already exists
)

// Both patch scripts take the same ARGV: 1 now, 2 idle deadline, 3 idle TTL
// in ms, 4 size limit, 5 clear ("1" or "0"), 6 new ID or "", 7 the new
// absolute deadline (Patch.Expires) or "" to keep it, 8 the number n of
// fields to set, 9 the principal's set when the patch changes the
// principal, "-" when it removes it, "" when it leaves it (principals.go),
// then n field/value pairs, then the fields to delete.
// Fields arrive with their "v:" prefix. Each checks the size limit before
// any write, so a patch that is too large changes nothing.

// patchScript applies a patch in place to the session at KEYS[1]. Its cost
// grows with the patch, not with the session: it reads the deadlines and the
// "size" field (the length of all keys and values, kept up to date by every
// write) and the length of each field the patch replaces or deletes, never
// the values themselves.
var patchScript = goredis.NewScript(lib + `
local key, now = KEYS[1], ARGV[1]
local m = redis.call('HMGET', key, 'idle', 'expires', 'size', 'principal', 'id')
local size = tonumber(m[3])
if not size or not live(m[1], m[2], now) then return {0, 0} end

-- Patch.Apply's order: clear, delete, set. replaced[f] marks a field whose
-- old length has been taken off size already.
local clear, sets = ARGV[5] == '1', 10 + 2 * tonumber(ARGV[8])
local replaced, gone = {}, {}
local function drop(f)
  if clear or replaced[f] then return false end
  replaced[f] = true
  local n = redis.call('HSTRLEN', key, f)
  if n == 0 and redis.call('HEXISTS', key, f) == 0 then return false end
  size = size - (#f - 2) - n
  return true
end
if clear then
  size = 0
  for _, f in ipairs(redis.call('HKEYS', key)) do
    if string.sub(f, 1, 2) == 'v:' then gone[#gone + 1] = f end
  end
end
for i = sets, #ARGV do
  if drop(ARGV[i]) then gone[#gone + 1] = ARGV[i] end
end
for i = 10, sets - 1, 2 do
  drop(ARGV[i])
  size = size + (#ARGV[i] - 2) + #ARGV[i + 1]
end
if size > tonumber(ARGV[4]) then return {2, size} end

-- HDEL before HSET, so a key cleared and set again in one patch ends up set.
chunked('HDEL', key, gone, 1)
local changed = {'touched', now, 'idle', ARGV[2], 'size', string.format('%d', size)}
local expires = m[2]
if ARGV[7] ~= '' then
  expires = ARGV[7]
  changed[#changed + 1] = 'expires'
  changed[#changed + 1] = expires
end
for i = 10, sets - 1 do changed[#changed + 1] = ARGV[i] end
local set = m[4]
if ARGV[9] ~= '' then
  if set and set ~= ARGV[9] then redis.call('SREM', set, m[5]) end
  set = false
  if ARGV[9] ~= '-' then set = ARGV[9] end
end
if set then
  changed[#changed + 1] = 'principal'
  changed[#changed + 1] = set
elseif m[4] then
  redis.call('HDEL', key, 'principal')
end
chunked('HSET', key, changed, 1)
redis.call('HINCRBY', key, 'version', 1)
local t = ttl(ARGV[3], expires, now)
redis.call('PEXPIRE', key, t)
if set then index(set, m[5], t) end
return {1, 0}
`)

// renewScript applies a patch to the session at KEYS[1] and moves it, with
// its TTL, to KEYS[2] (the new ID's key) in one atomic step: the old ID
// stops working as the new one starts. It reads and rewrites the whole
// session, which a renew (a login) does rarely. Single server and Sentinel
// only: in Redis Cluster the two keys are in different slots.
var renewScript = goredis.NewScript(lib + `
local src, dst, now = KEYS[1], KEYS[2], ARGV[1]
local flat = redis.call('HGETALL', src)
local rec = {}
for i = 1, #flat, 2 do rec[flat[i]] = flat[i + 1] end
if not rec.size or not live(rec.idle, rec.expires, now) then return {0, 0} end
if redis.call('EXISTS', dst) == 1 then return {3, 0} end

if ARGV[5] == '1' then
  for f in pairs(rec) do
    if string.sub(f, 1, 2) == 'v:' then rec[f] = nil end
  end
end
local sets = 10 + 2 * tonumber(ARGV[8])
for i = sets, #ARGV do rec[ARGV[i]] = nil end
for i = 10, sets - 1, 2 do rec[ARGV[i]] = ARGV[i + 1] end
local size = 0
for f, v in pairs(rec) do
  if string.sub(f, 1, 2) == 'v:' then size = size + #f - 2 + #v end
end
if size > tonumber(ARGV[4]) then return {2, size} end

local old, oldID = rec.principal, rec.id
if ARGV[9] == '-' then rec.principal = nil elseif ARGV[9] ~= '' then rec.principal = ARGV[9] end
rec.touched, rec.idle, rec.id = now, ARGV[2], ARGV[6]
if ARGV[7] ~= '' then rec.expires = ARGV[7] end
rec.size = string.format('%d', size)
rec.version = string.format('%d', (tonumber(rec.version) or 0) + 1)
local all = {}
for f, v in pairs(rec) do all[#all + 1] = f; all[#all + 1] = v end
redis.call('DEL', src)
chunked('HSET', dst, all, 1)
local t = ttl(ARGV[3], rec.expires, now)
redis.call('PEXPIRE', dst, t)
if old then redis.call('SREM', old, oldID) end
if rec.principal then index(rec.principal, rec.id, t) end
return {1, 0}
`)

// touchScript slides the idle deadline of the session at KEYS[1] without
// reading or rewriting its values. ARGV: 1 now, 2 idle deadline, 3 idle TTL
// in ms. It returns 1, or 0 when the session is missing or expired.
var touchScript = goredis.NewScript(lib + `
local m = redis.call('HMGET', KEYS[1], 'idle', 'expires', 'principal', 'id')
if not live(m[1], m[2], ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'touched', ARGV[1], 'idle', ARGV[2])
redis.call('HINCRBY', KEYS[1], 'version', 1)
local t = ttl(ARGV[3], m[2], ARGV[1])
redis.call('PEXPIRE', KEYS[1], t)
if m[3] then index(m[3], m[4], t) end
return 1
`)

// createScript writes a whole new session at KEYS[1] unless the key exists,
// and adds it to the principal's set KEYS[2] when there is one. ARGV: 1
// TTL in ms, then field/value pairs. It returns 1, or 0 when the key was
// taken.
var createScript = goredis.NewScript(lib + `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
chunked('HSET', KEYS[1], ARGV, 2)
redis.call('PEXPIRE', KEYS[1], ARGV[1])
if KEYS[2] then index(KEYS[2], redis.call('HGET', KEYS[1], 'id'), ARGV[1]) end
return 1
`)

// deleteScript deletes the session at KEYS[1] and takes it out of its
// principal's set. It returns nothing.
var deleteScript = goredis.NewScript(lib + `
local m = redis.call('HMGET', KEYS[1], 'principal', 'id')
if m[1] then redis.call('SREM', m[1], m[2]) end
redis.call('DEL', KEYS[1])
return 0
`)
