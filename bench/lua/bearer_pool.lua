-- GET the URL with "Authorization: Bearer <token>", cycling through the tokens of WRK_POOL (one per line):
-- userinfo for users spread over the whole user table. WRK_EXPECT: a substring every 2xx body must contain.
local dir = debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./"
dofile(dir .. "report.lua")
expect_body = os.getenv("WRK_EXPECT")
if expect_body == "" then expect_body = nil end

function init_pool(args)
  exhausted = 0
  pool = {}
  for line in io.lines(os.getenv("WRK_POOL")) do table.insert(pool, line) end
  nxt = 0
end

function request()
  nxt = nxt % #pool + 1
  return wrk.format("GET", nil, {["Authorization"] = "Bearer " .. pool[nxt]})
end
