-- Shared by the wrk scripts of scripts/bench-http.sh (loaded with dofile from the script's own folder).
--
-- Every thread counts the responses it sees by class; `done` (run once, in wrk's main Lua state after
-- all threads finished) adds them up and prints ONE machine-readable line that bench-http.sh parses:
--
--   BENCH requests=N duration_us=D p50_us=X p99_us=Y non2xx=K statuses=401:3,503:1 connect=.. read=.. write=.. timeout=..
--
-- non2xx counts every response whose status is not 2xx, so a scenario that answers 401/404/5xx shows
-- it instead of hiding behind a high req/s; connect/read/write/timeout are wrk's socket errors.

local threads = {}

-- Wall clock in microseconds (CLOCK_MONOTONIC through LuaJIT's FFI; wrk embeds LuaJIT), for scripts
-- that stop their thread early: wrk's own summary.duration is always the full -d.
local ffi = require("ffi")
pcall(ffi.cdef, "typedef struct { long tv_sec; long tv_nsec; } bench_timespec; int clock_gettime(int, bench_timespec *);")
local timespec = ffi.new("bench_timespec")
function now_us()
    ffi.C.clock_gettime(1, timespec)
    return tonumber(timespec.tv_sec) * 1e6 + tonumber(timespec.tv_nsec) / 1e3
end

function setup(thread)
    thread:set("id", #threads)
    table.insert(threads, thread)
end

-- Per-thread state (each wrk thread has its own Lua state; these globals live there).
-- elapsed_us: set by a script that stops its thread early (first request to last response).
elapsed_us = nil
non2xx = 0
responses = 0
statuses = {}

-- Call from response() in every script. `label` (optional) marks a 2xx answer that is still a failure
-- (introspection's 200 {"active":false}); it is counted with the non-2xx answers under that label.
function count_response(status, label)
    responses = responses + 1
    if label or status < 200 or status > 299 then
        non2xx = non2xx + 1
        local key = label or tostring(status)
        statuses[key] = (statuses[key] or 0) + 1
    end
end

function response(status, headers, body)
    count_response(status)
end

function done(summary, latency, requests)
    local bad, seen, duration, early, stopped = 0, {}, summary.duration, 0, 0
    for _, thread in ipairs(threads) do
        bad = bad + (thread:get("non2xx") or 0)
        local elapsed = thread:get("elapsed_us")
        if type(elapsed) == "number" then
            stopped = stopped + 1
            if elapsed > early then early = elapsed end
        end
        local per = thread:get("statuses")
        if type(per) == "table" then
            for code, n in pairs(per) do seen[code] = (seen[code] or 0) + n end
        end
    end
    -- All threads stopped early: the rate is over the time they ran, not over the whole -d.
    if stopped > 0 and stopped == #threads then duration = early end
    local codes = {}
    for code, n in pairs(seen) do table.insert(codes, string.format("%s:%d", code, n)) end
    table.sort(codes)
    local e = summary.errors
    io.write(string.format(
        "BENCH requests=%d duration_us=%.0f p50_us=%.0f p99_us=%.0f non2xx=%d statuses=%s connect=%d read=%d write=%d timeout=%d\n",
        summary.requests, duration, latency:percentile(50), latency:percentile(99), bad,
        #codes > 0 and table.concat(codes, ",") or "-", e.connect, e.read, e.write, e.timeout))
end

-- Reads a file of lines into a table (used by init; fails loudly rather than benchmarking nothing).
function read_lines(path)
    local lines = {}
    local file = assert(io.open(path, "r"))
    for line in file:lines() do
        if line ~= "" then table.insert(lines, line) end
    end
    file:close()
    assert(#lines > 0, "no lines in " .. path)
    return lines
end
