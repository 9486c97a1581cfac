-- (c) Forward-auth over many distinct tokens: GET /v1/verify cycling through a file of
-- "<forwarded host> <token>" lines (bench-http.sh mints 20,000 of them for random tenants).
--   wrk ... -s Benchmarks/http/verify-distinct.lua http://127.0.0.1:PORT -- <file> <mode> <wrk threads>
-- mode "once":  each token is sent exactly once (threads take disjoint slices), then the thread stops,
--               so every request is a verification-cache miss (full ECDSA verification);
-- mode "cycle": round robin until wrk's -d ends; after the first pass the tokens are cache hits
--               (the broker's cache holds 100,000 results), so this measures a 20k-entry working set.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

local prepared = {}
local next_index, last_index, stop_after
local once = false
local step = 1

function init(args)
    local path, mode, nthreads = args[1], args[2] or "cycle", tonumber(args[3] or "1")
    assert(path, "usage: -- <file> once|cycle <wrk threads>")
    for _, line in ipairs(read_lines(path)) do
        local host, token = line:match("^(%S+)%s+(%S+)$")
        assert(host and token, "bad line in " .. path)
        table.insert(prepared, wrk.format("GET", "/v1/verify", { ["Authorization"] = "Bearer " .. token, ["X-Forwarded-Host"] = host }))
    end
    local me = id or 0
    if mode == "once" then
        once = true
        -- Disjoint slices: thread k sends tokens k+1, k+1+T, k+1+2T, ...
        next_index = me + 1
        stop_after = 0
        for i = me + 1, #prepared, nthreads do stop_after = stop_after + 1 end
        step = nthreads
    else
        -- Start the threads at different offsets of the same cycle.
        next_index = (math.floor(#prepared * me / nthreads) % #prepared) + 1
        step = 1
    end
end

local started

function request()
    if not started then started = now_us() end
    local r = prepared[next_index]
    next_index = next_index + step
    if next_index > #prepared then
        -- "once": the slice is used up and the last (at most -c/-t) responses are still in flight; the
        -- requests sent meanwhile repeat the slice and may be answered from the cache: at most c/t of
        -- the stop_after counted responses, negligible against 20,000.
        next_index = once and ((next_index - 1) % step) + 1 or 1
    end
    return r
end

function response(status, headers, body)
    count_response(status)
    if once and responses >= stop_after and not elapsed_us then
        elapsed_us = now_us() - started
        wrk.thread:stop()
    end
end
