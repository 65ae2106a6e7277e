-- GET each path of WRK_POOL in turn (one per line) on the host given on the command line:
-- discovery documents of many tenants, to show the cost of a tenant look-up as the tenant count grows.
local dir = debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./"
dofile(dir .. "report.lua")

function init_pool(args)
  exhausted = 0
  pool = {}
  for line in io.lines(os.getenv("WRK_POOL")) do table.insert(pool, line) end
  nxt = 0
end

function request()
  nxt = nxt % #pool + 1
  return wrk.format("GET", pool[nxt])
end
