import Foundation
import HTTPTypes
import JOSE
import StoreTestSupport
import TenantRegistry
import Testing

@Suite("operator console: served from the binary with strict headers; the key ring view")
struct ConsoleTests {
    /// What every console answer must carry.
    static func expectSecurityHeaders(_ reply: RegistryHarness.Client.Reply, _ uri: String) {
        let csp = reply.headers[HTTPField.Name("Content-Security-Policy")!] ?? ""
        #expect(csp.contains("default-src 'self'") && csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"), "\(uri): \(csp)")
        #expect(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "\(uri): no inline script or eval")
        #expect(reply.headers[HTTPField.Name("X-Frame-Options")!] == "DENY", "\(uri)")
        #expect(reply.headers[HTTPField.Name("Referrer-Policy")!] == "no-referrer", "\(uri)")
        #expect(reply.headers[HTTPField.Name("X-Content-Type-Options")!] == "nosniff", "\(uri)")
    }

    @Test("every answer under /console (page, script, style, redirect, 404) carries the CSP and framing headers; the page has no inline script")
    func headers() async throws {
        let harness = try await RegistryHarness.make(.sqlite)
        try await harness.run { client async throws in
            for (uri, type) in [("/console/", "text/html"), ("/console/index.html", "text/html"), ("/console/console.js", "text/javascript"), ("/console/console.css", "text/css")] {
                let reply = try await client.send(.get, uri, key: .some(nil))
                #expect(reply.status == .ok, "\(uri)")
                #expect(reply.headers[.contentType]?.hasPrefix(type) == true, "\(uri): \(reply.headers[.contentType] ?? "-")")
                Self.expectSecurityHeaders(reply, uri)
            }
            let page = try await client.send(.get, "/console/", key: .some(nil)).text
            #expect(page.contains("<script type=\"module\" src=\"console.js\"></script>"))
            // No inline script and no inline handler: every <script> has a src, no on...= attribute anywhere.
            #expect(page.components(separatedBy: "<script").count - 1 == page.components(separatedBy: "<script type=\"module\" src=").count - 1)
            #expect(page.range(of: #"\son[a-z]+\s*="#, options: .regularExpression) == nil)
            let script = try await client.send(.get, "/console/console.js", key: .some(nil)).text
            #expect(!script.contains("innerHTML") && !script.contains("outerHTML") && !script.contains("insertAdjacentHTML") && !script.contains("eval("),
                "the console writes data as text only")
            #expect(!script.contains("localStorage") && !script.contains("document.cookie"), "the credential is kept in sessionStorage only")

            let redirect = try await client.send(.get, "/console", key: .some(nil))
            #expect(redirect.status == .permanentRedirect && redirect.headers[.location] == "console/", "relative: a proxy's path prefix stays")
            Self.expectSecurityHeaders(redirect, "/console")
            for uri in ["/console/nothing.js", "/console/a/b", "/console/..%2Fmetrics", "/console/%2e%2e/healthz", "/console%2Findex.html"] {
                let missing = try await client.send(.get, uri, key: .some(nil))
                #expect(missing.status == .notFound, "\(uri): \(missing.status)")
                Self.expectSecurityHeaders(missing, uri)
            }
            // Answers the routes never make (the router's 405/404 for another method, a doubled slash) carry them too.
            for (method, uri) in [(HTTPRequest.Method.post, "/console/"), (.delete, "/console/console.js"), (.put, "/console"), (.get, "//console")] {
                let other = try await client.send(method, uri, key: .some(nil))
                #expect(other.status != .ok || uri == "//console", "\(method) \(uri): \(other.status)")
                Self.expectSecurityHeaders(other, "\(method) \(uri)")
            }
        }
    }

    @Test("--console false: nothing is served under /console, the API stays")
    func off() async throws {
        let harness = try await RegistryHarness.make(.sqlite, flags: ["console": "false"])
        try await harness.run { client async throws in
            for uri in ["/console/", "/console/console.js", "/console"] {
                #expect(try await client.send(.get, uri, key: .some(nil)).status == .notFound, "\(uri)")
            }
            #expect(try await client.send(.get, "/v1/dashboard/summary").status == .ok)
        }
    }

    @Test("GET /v1/keys: the loaded key ring (kid, alg, state, dates; never key material) for system admins only")
    func keyRing() async throws {
        let harness = try await RegistryHarness.make(.sqlite)
        try await harness.run { client async throws in
            let reply = try await client.send(.get, "/v1/keys")
            #expect(reply.status == .ok && reply.headers[.cacheControl] == "no-store", "\(reply.text)")
            let body = try reply.json
            let keys = body["keys"]?.arrayValue?.compactMap(\.objectValue) ?? []
            let active = keys.filter { $0["state"] == .string("active") }
            #expect(active.count == 1)
            let activeKid = active.first?["kid"]
            #expect(body["activeKid"] == activeKid)
            #expect(active.first?["alg"]?.stringValue != nil && active.first?["published"] == .bool(true))
            let created = active.first?["createdAt"]?.stringValue ?? ""
            #expect(RFC3339.parse(created) != nil, "\(created)")
            let jwks = try await client.send(.get, "/.well-known/jwks.json", key: .some(nil)).json["keys"]?.arrayValue ?? []
            let published = Set(jwks.compactMap { $0.objectValue?["kid"]?.stringValue })
            let listed = Set(keys.compactMap { $0["kid"]?.stringValue })
            #expect(!published.isEmpty && published.isSubset(of: listed), "\(published) in \(listed)")
            for word in ["\"d\"", "PRIVATE", "\"x\"", "file"] { #expect(!reply.text.contains(word), "no key material or path: \(word)") }
            let minter = try await client.apiKey(["token:mint", "tenants:read"])
            #expect(try await client.send(.get, "/v1/keys", key: minter).status == .forbidden)
            #expect(try await client.send(.get, "/v1/keys", key: .some(nil)).status == .unauthorized)
        }
    }
}
