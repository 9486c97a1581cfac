-- (b) Forward-auth with one token: GET /v1/verify, Authorization: Bearer <token>,
-- X-Forwarded-Host: <tenant>.<base domain> (as nginx auth_request / Envoy ext_authz send it).
-- After the first request the signature check is served from the broker's verification cache.
--   wrk ... -s Benchmarks/http/verify-cached.lua http://127.0.0.1:PORT -- <token> <forwarded host> [delay ms]
-- The delay is used by verify-paced.lua only.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

local prepared
pause = 0

function init(args)
    local token, host = args[1], args[2]
    assert(token and host, "usage: -- <token> <forwarded host> [delay ms]")
    pause = tonumber(args[3] or "0")
    prepared = wrk.format("GET", "/v1/verify", { ["Authorization"] = "Bearer " .. token, ["X-Forwarded-Host"] = host })
end

function request()
    return prepared
end
