-- Minting for one tenant: POST /v1/tenants/<tenant>/token with an API key, body {} (scripts/bench-noisy.sh).
--   wrk ... -s Benchmarks/http/mint-one.lua http://127.0.0.1:PORT -- <api key> <tenant id> [delay ms]
-- A tenant past its mint limit answers 429: those count as non-2xx in the BENCH line. The delay is used by
-- mint-paced.lua only.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

local prepared
pause = 0

function init(args)
    local key, tenant = args[1], args[2]
    assert(key and tenant, "usage: -- <api key> <tenant id> [delay ms]")
    pause = tonumber(args[3] or "0")
    prepared = wrk.format("POST", "/v1/tenants/" .. tenant .. "/token", { ["Authorization"] = "Bearer " .. key, ["Content-Type"] = "application/json" }, "{}")
end

function request()
    return prepared
end
