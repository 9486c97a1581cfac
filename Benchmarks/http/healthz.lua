-- Reference: GET /healthz, the cheapest route (no auth, no crypto): the ceiling of the HTTP stack on
-- this machine with wrk beside it. Scenarios close to it are bound by HTTP handling, not by tokens.
--   wrk ... -s Benchmarks/http/healthz.lua http://127.0.0.1:PORT
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

local prepared

function init(args)
    prepared = wrk.format("GET", "/healthz")
end

function request()
    return prepared
end
