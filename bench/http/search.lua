-- wrk script: POST /v1/search with a fresh random query vector per request.
--   wrk -t2 -c8 -d30s -s bench/http/search.lua http://localhost:8080 -- 128 10
-- Arguments after --: dimension (default 128), k (default 10), and "local" to search only the asked instance's
-- shards (no fan-out: what the fan-out bench compares against).
local dim, k, extra = 128, 10, ""

function init(args)
  dim = tonumber(args[1] or dim)
  k = tonumber(args[2] or k)
  if args[3] == "local" then extra = ',"local":true' end
  math.randomseed(os.time() + math.floor(os.clock() * 1e6))
end

local function gaussian()
  local u1, u2 = math.random(), math.random()
  return math.sqrt(-2 * math.log(u1 + 1e-12)) * math.cos(2 * math.pi * u2)
end

function request()
  local parts = {}
  for i = 1, dim do parts[i] = string.format("%.4f", gaussian()) end
  local body = '{"vector":[' .. table.concat(parts, ",") .. '],"k":' .. k .. extra .. '}'
  return wrk.format("POST", "/v1/search", { ["Content-Type"] = "application/json" }, body)
end

function done(summary, latency, requests)
  io.write(string.format("requests %d, errors %d (status %d), p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
    summary.requests, summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
