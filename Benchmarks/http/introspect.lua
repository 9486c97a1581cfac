-- (d) RFC 7662 introspection: POST /oauth2/introspect, form token=<token>, HTTP Basic client
-- authentication with the API key split at its second underscore (user tbk_<id>, password <secret>).
-- Every answer must be 200 with "active": true; a 200 with active false is reported as a failure.
--   wrk ... -s Benchmarks/http/introspect.lua http://127.0.0.1:PORT -- <base64 user:password> <token>
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

local prepared

function init(args)
    local basic, token = args[1], args[2]
    assert(basic and token, "usage: -- <base64 of user:password> <token>")
    prepared = wrk.format("POST", "/oauth2/introspect", {
        ["Authorization"] = "Basic " .. basic,
        ["Content-Type"] = "application/x-www-form-urlencoded",
    }, "token=" .. token)
end

function request()
    return prepared
end

-- A 200 that says {"active": false} is a failed introspection: counted with the non-2xx answers.
function response(status, headers, body)
    if status == 200 and not (body and body:find('"active"%s*:%s*true')) then
        count_response(status, "200-inactive")
    else
        count_response(status)
    end
end
