-- verify-cached.lua at a chosen rate: each connection waits <delay ms> before each request (wrk's delay()), so
-- c connections send about c * 1000 / (delay + latency) verifications a second (scripts/bench-noisy.sh's paced B).
--   wrk ... -s Benchmarks/http/verify-paced.lua http://127.0.0.1:PORT -- <token> <forwarded host> <delay ms>
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "verify-cached.lua")

function delay()
    return pause
end
