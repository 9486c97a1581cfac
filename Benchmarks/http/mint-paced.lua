-- mint-one.lua at a chosen rate: each connection waits <delay ms> before each request (wrk's delay()), so
-- c connections send about c * 1000 / (delay + latency) requests a second (scripts/bench-noisy.sh's flood).
--   wrk ... -s Benchmarks/http/mint-paced.lua http://127.0.0.1:PORT -- <api key> <tenant id> <delay ms>
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "mint-one.lua")

function delay()
    return pause
end
