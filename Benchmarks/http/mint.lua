-- (a) Minting: POST /v1/tenants/<random tenant>/token with the admin API key, body {}.
--   wrk ... -s Benchmarks/http/mint.lua http://127.0.0.1:PORT -- <api key> <tenant count>
-- Tenants are t00001 .. t<count>, zero-padded to 5 digits (as bench-http.sh creates them).
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

local prepared = {}

function init(args)
    local key, count = args[1], tonumber(args[2])
    assert(key and count and count > 0, "usage: -- <api key> <tenant count>")
    math.randomseed(os.time() + 7919 * (id or 0))
    local headers = { ["Authorization"] = "Bearer " .. key, ["Content-Type"] = "application/json" }
    -- One prepared request per tenant, so the loop only picks one at random.
    for i = 1, count do
        prepared[i] = wrk.format("POST", string.format("/v1/tenants/t%05d/token", i), headers, "{}")
    end
end

function request()
    return prepared[math.random(#prepared)]
end
