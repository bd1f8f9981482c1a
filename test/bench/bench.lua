-- bench.lua: the wrk script of go run ./test/bench.
--
-- wrk ... -s bench.lua URL -- COOKIES READS WRITES SEED
--
-- COOKIES is a file with one Cookie header value per line, one per
-- session. Every request picks a session at random and, with probability
-- READS/(READS+WRITES), reads it (GET /peek) or else writes it (GET /).
-- Requests are built once per session and path in init (by hand: a
-- third of the time wrk.format takes, which counts with 100k sessions),
-- so request() costs two random numbers and a table lookup.
--
-- done() prints one line, "BENCH " and a JSON object, that the Go side
-- parses (parseWrk): wrk's summary, its socket errors, and its latency
-- percentiles in microseconds.

local threads = 0

function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end

local reads_, writes_ = {}, {}
local n, reads, total = 0, 0, 1

function init(args)
  local path = args[1]
  reads = tonumber(args[2])
  total = reads + tonumber(args[3])
  math.randomseed(tonumber(args[4]) + 7919 * id)
  -- wrk.init has set the Host header from the URL before calling init
  local tail = " HTTP/1.1\r\nHost: " .. wrk.headers["Host"] .. "\r\nCookie: "
  for line in io.lines(path) do
    if line ~= "" then
      n = n + 1
      writes_[n] = "GET /" .. tail .. line .. "\r\n\r\n"
      reads_[n] = "GET /peek" .. tail .. line .. "\r\n\r\n"
    end
  end
  if n == 0 then
    error("bench.lua: no cookies in " .. path)
  end
end

function request()
  local i = math.random(n)
  if reads > 0 and math.random(total) <= reads then
    return reads_[i]
  end
  return writes_[i]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end
