-- Shared reporting for the bench's wrk scripts (same output as ../shared/peers/wrk/report.lua):
-- counts non-2xx responses, and 2xx responses whose body lacks `expect_body` when a script sets it;
-- prints one line: RESULT rps=N p50_ms=N p99_ms=N errors=N requests=N non2xx=N bad_body=N socket_errors=N
bench_threads = {}

function setup(thread)
  table.insert(bench_threads, thread)
  if setup_hook then setup_hook(thread) end
end

function init(args)
  non2xx = 0
  bad_body = 0
  if init_pool then init_pool(args) end
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  elseif expect_body and not string.find(body, expect_body, 1, true) then
    bad_body = bad_body + 1
  end
end

function done(summary, latency, requests)
  local n2, bb, ex = 0, 0, 0
  for _, t in ipairs(bench_threads) do
    n2 = n2 + (t:get("non2xx") or 0)
    bb = bb + (t:get("bad_body") or 0)
    ex = ex + (t:get("exhausted") or 0)
  end
  local e = summary.errors
  local sock = e.connect + e.read + e.write + e.timeout
  local rps = summary.requests / (summary.duration / 1e6)
  io.write(string.format(
    "RESULT rps=%.0f p50_ms=%.2f p99_ms=%.2f errors=%d requests=%d non2xx=%d bad_body=%d socket_errors=%d exhausted=%d\n",
    rps, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    sock + n2 + bb, summary.requests, n2, bb, sock, ex))
end
