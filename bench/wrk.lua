-- wrk script of the benchmark (bench/wrk.py). Settings come from the environment:
--   BENCH_TOKEN   bearer token to send
--   BENCH_METHOD  GET (default) or POST
--   BENCH_BODY    JSON body for POST
--   BENCH_VARY    when set, every request adds a distinct created_after filter in year
--                 BENCH_VARY: the same rows, a different cache key (the cache-miss path)
-- At the end it prints one line: BENCH_JSON {...}.

local token = os.getenv("BENCH_TOKEN")
local body = os.getenv("BENCH_BODY")
local vary = os.getenv("BENCH_VARY")
local counter = 0

wrk.method = os.getenv("BENCH_METHOD") or "GET"
wrk.headers["Accept"] = "application/json"
if token and token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end
if body and body ~= "" then
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
end

if vary and vary ~= "" then
  request = function()
    counter = counter + 1
    local sep = string.find(wrk.path, "?", 1, true) and "&" or "?"
    local path = string.format("%s%screated_after=%04d-01-01T%02d:%02d:%02d.%06dZ",
      wrk.path, sep, tonumber(vary), math.floor(counter / 3600000000) % 24,
      math.floor(counter / 60000000) % 60, math.floor(counter / 1000000) % 60,
      counter % 1000000)
    return wrk.format(nil, path)
  end
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "bytes": %d, "non2xx": %d, ' ..
    '"socket_errors": %d, "timeouts": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, ' ..
    '"mean_us": %.1f, "max_us": %d}\n',
    summary.requests, summary.duration, summary.bytes, e.status,
    e.connect + e.read + e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.mean, latency.max))
end
