-- POST one form per request to the URL given on the command line, each with the next line of WRK_POOL
-- substituted for "{}" in WRK_BODY (single-use codes, rotating refresh tokens). With several wrk threads,
-- thread k of n takes lines k, k+n, k+2n... When the pool runs out, the last line is sent again
-- (an error) and `exhausted` is counted, so a short pool shows in the result.
local dir = debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./"
dofile(dir .. "report.lua")
local counter = 0
local template = os.getenv("WRK_BODY")
local basic = os.getenv("WRK_BASIC")
expect_body = os.getenv("WRK_EXPECT")
if expect_body == "" then expect_body = nil end

function setup_hook(thread)
  counter = counter + 1
  thread:set("tid", counter)
end

function init_pool(args)
  exhausted = 0
  local n = tonumber(os.getenv("WRK_THREADS") or "1")
  pool = {}
  local i = 0
  for line in io.lines(os.getenv("WRK_POOL")) do
    if i % n == (tid - 1) then table.insert(pool, line) end
    i = i + 1
  end
  nxt = 1
end

function request()
  local item = pool[nxt]
  if item == nil then
    item = pool[#pool]
    exhausted = exhausted + 1
  else
    nxt = nxt + 1
  end
  local headers = {["Content-Type"] = "application/x-www-form-urlencoded", ["Accept"] = "application/json"}
  if basic and basic ~= "" then headers["Authorization"] = "Basic " .. basic end
  return wrk.format("POST", nil, headers, (template:gsub("{}", function() return item end)))
end
