-- wrk script for ServingLoadEndToEndTest: POST bodies taken in turn from the file named by the first argument
-- (one JSON body per line); counts answers by status and whether each 503 carried Retry-After; prints one line:
--   RESULT requests=N errors_connect=N errors_read=N errors_write=N errors_timeout=N s200=N s503=N s503_retry_after=N other=N
local bodies, i = {}, 0
counts = { s200 = 0, s503 = 0, s503_retry = 0, other = 0 } -- global: done() reads it from each thread
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  for line in io.lines(args[1]) do bodies[#bodies + 1] = line end
end

function request()
  i = i % #bodies + 1
  return wrk.format("POST", "/v1/search/batch", { ["Content-Type"] = "application/json" }, bodies[i])
end

function response(status, headers, body)
  if status == 200 then
    counts.s200 = counts.s200 + 1
  elseif status == 503 then
    counts.s503 = counts.s503 + 1
    if headers["Retry-After"] or headers["retry-after"] then counts.s503_retry = counts.s503_retry + 1 end
  else
    counts.other = counts.other + 1
  end
end

function done(summary, latency, requests)
  local t = { s200 = 0, s503 = 0, s503_retry = 0, other = 0 }
  for _, thread in ipairs(threads) do
    local c = thread:get("counts")
    for k, v in pairs(c) do t[k] = t[k] + v end
  end
  io.write(string.format("RESULT requests=%d errors_connect=%d errors_read=%d errors_write=%d errors_timeout=%d s200=%d s503=%d s503_retry_after=%d other=%d p99_ms=%.2f max_ms=%.2f\n",
    summary.requests, summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout,
    t.s200, t.s503, t.s503_retry, t.other, latency:percentile(99) / 1000, latency.max / 1000))
end
