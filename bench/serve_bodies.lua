-- wrk script for scripts/bench_serve.sh: POSTs the bodies a manifest lists, in turn, to /v1/predict, counts
-- responses by status class and prints one JSON line (prefixed "WRK_JSON ") when done.
--   wrk -c C -d S -s serve_bodies.lua http://127.0.0.1:PORT -- MANIFEST
-- MANIFEST: one body a line, "CONTENT_TYPE<TAB>PATH".

local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

local bodies = {}
local counts = { c2xx = 0, c4xx = 0, c5xx = 0, other = 0 }
local index = 0

function init(args)
  local manifest = assert(io.open(args[1], "r"))
  for line in manifest:lines() do
    local content_type, path = line:match("^([^\t]+)\t(.+)$")
    if content_type then
      local file = assert(io.open(path, "rb"))
      local body = file:read("*a")
      file:close()
      table.insert(bodies, wrk.format("POST", "/v1/predict", { ["Content-Type"] = content_type }, body))
    end
  end
  manifest:close()
  assert(#bodies > 0, "no bodies in " .. args[1])
  -- Threads start at different places in the cycle.
  index = (id * 7919) % #bodies
end

function request()
  index = index % #bodies + 1
  return bodies[index]
end

function response(status, headers, body)
  if status >= 200 and status < 300 then
    counts.c2xx = counts.c2xx + 1
  elseif status >= 400 and status < 500 then
    counts.c4xx = counts.c4xx + 1
  elseif status >= 500 then
    counts.c5xx = counts.c5xx + 1
  else
    counts.other = counts.other + 1
  end
  c2xx, c4xx, c5xx, other = counts.c2xx, counts.c4xx, counts.c5xx, counts.other
end

function done(summary, latency, requests)
  local total = { c2xx = 0, c4xx = 0, c5xx = 0, other = 0 }
  for _, thread in ipairs(threads) do
    for key, _ in pairs(total) do
      total[key] = total[key] + (thread:get(key) or 0)
    end
  end
  local errors = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"mean_us":%.1f,"c2xx":%d,"c4xx":%d,"c5xx":%d,"other":%d,"connect_errors":%d,"read_errors":%d,' ..
    '"write_errors":%d,"timeouts":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean, total.c2xx, total.c4xx, total.c5xx, total.other,
    errors.connect, errors.read, errors.write, errors.timeout))
end
