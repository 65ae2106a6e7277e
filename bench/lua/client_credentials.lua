-- POST a client_credentials grant with HTTP Basic (as ../shared/peers/wrk/client_credentials.lua).
-- WRK_BASIC: base64(client_id:secret); WRK_SCOPE: scope to request (empty: none).
local dir = debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./"
dofile(dir .. "report.lua")
local scope = os.getenv("WRK_SCOPE") or ""
wrk.method = "POST"
wrk.body = "grant_type=client_credentials"
if scope ~= "" then wrk.body = wrk.body .. "&scope=" .. scope end
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic " .. os.getenv("WRK_BASIC")
wrk.headers["Accept"] = "application/json"
expect_body = "\"access_token\""
