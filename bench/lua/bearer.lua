-- GET (or POST with WRK_BODY) the URL with "Authorization: Bearer WRK_TOKEN" (userinfo), or with
-- HTTP Basic WRK_BASIC and WRK_BODY (introspection). WRK_EXPECT: a substring every 2xx body must contain.
local dir = debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./"
dofile(dir .. "report.lua")
local token = os.getenv("WRK_TOKEN") or ""
local basic = os.getenv("WRK_BASIC") or ""
local body = os.getenv("WRK_BODY") or ""
if basic ~= "" then
  wrk.headers["Authorization"] = "Basic " .. basic
elseif token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end
if body ~= "" then
  wrk.method = "POST"
  wrk.body = body
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end
expect_body = os.getenv("WRK_EXPECT")
if expect_body == "" then expect_body = nil end
