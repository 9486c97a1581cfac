-- (a) Minting: POST /v1/tenants/<random tenant>/token with the admin API key, body {}.
--   wrk ... -s Benchmarks/http/mint.lua http://127.0.0.1:PORT -- <api key> <tenant count> [<subtenants per tenant>]
-- Tenants are t00001 .. t<count>, zero-padded to 5 digits (as bench-http.sh creates them). With a third
-- argument n > 0, each request mints for a random subtenant s01 .. s<n> of the tenant: {"subtenant": "sNN"}.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

local prepared = {}

function init(args)
    local key, count, per = args[1], tonumber(args[2]), tonumber(args[3] or "0")
    assert(key and count and count > 0 and per, "usage: -- <api key> <tenant count> [<subtenants per tenant>]")
    math.randomseed(os.time() + 7919 * (id or 0))
    local headers = { ["Authorization"] = "Bearer " .. key, ["Content-Type"] = "application/json" }
    -- One prepared request per tenant, so the loop only picks one at random.
    for i = 1, count do
        local path = string.format("/v1/tenants/t%05d/token", i)
        if per > 0 then
            for s = 1, per do
                prepared[#prepared + 1] = wrk.format("POST", path, headers, string.format('{"subtenant":"s%02d"}', s))
            end
        else
            prepared[i] = wrk.format("POST", path, headers, "{}")
        end
    end
end

function request()
    return prepared[math.random(#prepared)]
end
