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

// Results of saveScript.
const (
	resultMissing  = 0 // the source session does not exist or has expired
	resultApplied  = 1
	resultTooLarge = 2 // second element: the size the session would have had
	resultTaken    = 3 // the renew target already exists
)

// saveScript applies a patch to the session at KEYS[1] and stores the result
// at KEYS[2]: the same key, or the new ID's key on renew (which deletes
// KEYS[1] in the same step, so the old ID stops working atomically).
//
// ARGV: 1 now, 2 idle deadline, 3 idle TTL in ms, 4 size limit, 5 clear
// ("1" or "0"), 6 new ID or "", 7 the number n of fields to set, then n
// field/value pairs, then the fields to delete. Fields arrive prefixed.
//
// It returns {code, size}. The size check runs before any write, so a patch
// that is too large changes nothing.
var saveScript = goredis.NewScript(lib + `
local src, dst, now = KEYS[1], KEYS[2], ARGV[1]
local flat = redis.call('HGETALL', src)
local rec = {}
for i = 1, #flat, 2 do rec[flat[i]] = flat[i + 1] end
if not live(rec.idle, rec.expires, now) then return {0, 0} end
if src ~= dst and redis.call('EXISTS', dst) == 1 then return {3, 0} end

-- Apply in Patch.Apply's order: clear, delete, set.
local gone = {}
if ARGV[5] == '1' then
  for f in pairs(rec) do
    if string.sub(f, 1, 2) == 'v:' then rec[f] = nil; gone[#gone + 1] = f end
  end
end
local sets = 8 + 2 * tonumber(ARGV[7])
for i = sets, #ARGV do
  if rec[ARGV[i]] then rec[ARGV[i]] = nil; gone[#gone + 1] = ARGV[i] end
end
for i = 8, sets - 1, 2 do rec[ARGV[i]] = ARGV[i + 1] end

local size = 0
for f, v in pairs(rec) do
  if string.sub(f, 1, 2) == 'v:' then size = size + #f - 2 + #v end
end
if size > tonumber(ARGV[4]) then return {2, size} end

if src == dst then
  -- Write only what changed: HDEL before HSET, so a key cleared and set
  -- again in the same patch ends up set.
  chunked('HDEL', dst, gone, 1)
  local changed = {'touched', now, 'idle', ARGV[2]}
  for i = 8, sets - 1 do changed[#changed + 1] = ARGV[i] end
  chunked('HSET', dst, changed, 1)
  redis.call('HINCRBY', dst, 'version', 1)
else
  rec.touched, rec.idle, rec.id = now, ARGV[2], ARGV[6]
  rec.version = string.format('%d', (tonumber(rec.version) or 0) + 1)
  local all = {}
  for f, v in pairs(rec) do all[#all + 1] = f; all[#all + 1] = v end
  redis.call('DEL', src)
  chunked('HSET', dst, all, 1)
end
redis.call('PEXPIRE', dst, ttl(ARGV[3], rec.expires, now))
return {1, 0}
`)

// touchScript slides the idle deadline of the session at KEYS[1] without
// reading or rewriting its values. ARGV: 1 now, 2 idle deadline, 3 idle TTL
// in ms. It returns 1, or 0 when the session is missing or expired.
var touchScript = goredis.NewScript(lib + `
local m = redis.call('HMGET', KEYS[1], 'idle', 'expires')
if not live(m[1], m[2], ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'touched', ARGV[1], 'idle', ARGV[2])
redis.call('HINCRBY', KEYS[1], 'version', 1)
redis.call('PEXPIRE', KEYS[1], ttl(ARGV[3], m[2], ARGV[1]))
return 1
`)

// createScript writes a whole new session at KEYS[1] unless the key exists.
// ARGV: 1 TTL in ms, then field/value pairs. It returns 1, or 0 when the
// key was taken.
var createScript = goredis.NewScript(lib + `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
chunked('HSET', KEYS[1], ARGV, 2)
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
`)
