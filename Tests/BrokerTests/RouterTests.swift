import Broker
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JOSE
import KeyRing
import Testing

@Suite("HTTP endpoints in-process") struct RouterTests {
    @Test("/healthz answers ok with a request id")
    func healthz() async throws {
        let harness = try await InProcessBroker()
        let app = Application(router: harness.broker.buildRouter())
        try await app.test(.router) { client in
            try await client.execute(uri: "/healthz", method: .get) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body) == #"{"status":"ok"}"#)
                #expect(response.headers[HTTPField.Name("X-Request-Id")!]?.isEmpty == false)
            }
        }
    }

    @Test("/readyz reports the signing key check")
    func readyz() async throws {
        let harness = try await InProcessBroker()
        let app = Application(router: harness.broker.buildRouter())
        try await app.test(.router) { client in
            try await client.execute(uri: "/readyz", method: .get) { response in
                #expect(response.status == .ok)
                let body = try JSONParser().parseObject(Array(buffer: response.body))
                #expect(body["status"] == .string("ok"))
                #expect(body["checks"]?.objectValue?["signingKey"]?.objectValue?["status"] == .string("ok"))
            }
        }
    }

    @Test("the JWKS lists the active key with Cache-Control and a strong ETag; a matching If-None-Match is 304")
    func jwks() async throws {
        let harness = try await InProcessBroker(flags: ["jwksMaxAge": "120"])
        let app = Application(router: harness.broker.buildRouter())
        let kid = harness.broker.keyRing.current.active.kid
        try await app.test(.router) { client in
            let etag = try await client.execute(uri: "/.well-known/jwks.json", method: .get) { response -> String in
                #expect(response.status == .ok)
                #expect(response.headers[.cacheControl] == "public, max-age=120")
                #expect(response.headers[.contentType] == "application/json")
                let set = try JWKSet(json: Array(buffer: response.body))
                #expect(Set(set.keys.keys) == [kid])
                return try #require(response.headers[.eTag])
            }
            for header in [etag, "W/\(etag)", "\"other\", \(etag)", "*"] {
                try await client.execute(uri: "/.well-known/jwks.json", method: .get, headers: [.ifNoneMatch: header]) { response in
                    #expect(response.status == .notModified, "If-None-Match: \(header)")
                    #expect(response.body.readableBytes == 0)
                    #expect(response.headers[.eTag] == etag)
                }
            }
            try await client.execute(uri: "/.well-known/jwks.json", method: .get, headers: [.ifNoneMatch: "\"stale\""]) { response in
                #expect(response.status == .ok)
            }
        }
    }

    @Test("both discovery documents name the issuer, endpoints and the published algorithms", arguments: [
        "/.well-known/openid-configuration", "/.well-known/oauth-authorization-server",
    ])
    func discovery(path: String) async throws {
        let harness = try await InProcessBroker(flags: ["issuer": "https://broker.example.com/"])
        _ = try KeyRingDirectory(path: harness.keysDir).generate(.edDSA)
        harness.broker.keyRing.reload(logger: .init(label: "test"))
        let app = Application(router: harness.broker.buildRouter())
        try await app.test(.router) { client in
            try await client.execute(uri: path, method: .get) { response in
                #expect(response.status == .ok)
                let body = try JSONParser().parseObject(Array(buffer: response.body))
                #expect(body["issuer"] == .string("https://broker.example.com"))
                #expect(body["jwks_uri"] == .string("https://broker.example.com/.well-known/jwks.json"))
                #expect(body["token_endpoint"] == .string("https://broker.example.com/oauth2/token"))
                #expect(body["introspection_endpoint"] == .string("https://broker.example.com/oauth2/introspect"))
                #expect(body["revocation_endpoint"] == .string("https://broker.example.com/oauth2/revoke"))
                #expect(body["id_token_signing_alg_values_supported"] == .array([.string("ES256"), .string("EdDSA")]))
                #expect(body["grant_types_supported"]?.arrayValue?.contains(.string("client_credentials")) == true)
            }
        }
    }

    @Test("unknown paths answer a problem+json 404 that echoes nothing from the request")
    func notFound() async throws {
        let harness = try await InProcessBroker()
        let app = Application(router: harness.broker.buildRouter())
        try await app.test(.router) { client in
            for uri in ["/nope", "/v1/../etc/passwd", "/%00", "/.well-known/jwks.json/extra", "/\(String(repeating: "a", count: 4000))"] {
                try await client.execute(uri: uri, method: .get) { response in
                    #expect(response.status == .notFound, "\(uri.prefix(40))")
                    #expect(response.headers[.contentType] == "application/problem+json")
                    let body = try JSONParser().parseObject(Array(buffer: response.body))
                    #expect(body["code"] == .string("not_found"))
                    #expect(body["type"] == .string("urn:token-broker:problem:not_found"))
                    #expect(!String(buffer: response.body).contains("passwd"))
                }
            }
        }
    }

    @Test("a plain X-Request-Id is echoed; a hostile one is replaced")
    func requestIDs() async throws {
        let harness = try await InProcessBroker()
        let app = Application(router: harness.broker.buildRouter())
        let header = HTTPField.Name("X-Request-Id")!
        try await app.test(.router) { client in
            try await client.execute(uri: "/healthz", method: .get, headers: [header: "abc-123.def_456:7"]) { response in
                #expect(response.headers[header] == "abc-123.def_456:7")
            }
            for hostile in ["evil\r\nSet-Cookie: x", "a b", String(repeating: "x", count: 200), "<script>", "é"] {
                try await client.execute(uri: "/healthz", method: .get, headers: [header: hostile]) { response in
                    let echoed = try #require(response.headers[header])
                    #expect(echoed != hostile)
                    #expect(echoed.count == 16)
                }
            }
        }
    }

    @Test("generated request ids are distinct, base64url, one prefix per process, and do not count up visibly")
    func generatedRequestIDs() async throws {
        let harness = try await InProcessBroker()
        let app = Application(router: harness.broker.buildRouter())
        let header = HTTPField.Name("X-Request-Id")!
        let ids = try await app.test(.router) { client in
            var ids = [String]()
            for _ in 0..<2_000 {
                ids.append(try await client.execute(uri: "/healthz", method: .get) { try #require($0.headers[header]) })
            }
            return ids
        }
        let alphabet = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        #expect(ids.allSatisfy { $0.count == 16 && $0.allSatisfy(alphabet.contains) })
        #expect(Set(ids).count == ids.count, "request ids repeat")
        // The first 4 bytes (5 characters and 2 bits) are the process prefix; the counter part is mixed, so
        // consecutive ids differ in many of their last 11 characters, not in one or two.
        #expect(Set(ids.map { $0.prefix(5) }).count == 1)
        let differing = zip(ids, ids.dropFirst()).map { pair in zip(pair.0.suffix(10), pair.1.suffix(10)).filter { $0 != $1 }.count }
        #expect(Double(differing.reduce(0, +)) / Double(differing.count) > 7, "consecutive ids look sequential")
    }

    @Test("/metrics exposes request counters by route pattern and key ring gauges")
    func metrics() async throws {
        let harness = try await InProcessBroker()
        let app = Application(router: harness.broker.buildRouter())
        try await app.test(.router) { client in
            _ = try await client.execute(uri: "/healthz", method: .get)
            _ = try await client.execute(uri: "/healthz", method: .get)
            _ = try await client.execute(uri: "/no/such/path/123", method: .get)
            for invented in ["BREW", "X-RANDOM-1", "X-RANDOM-2"] {
                _ = try await client.execute(uri: "/healthz", method: HTTPRequest.Method(invented)!)
            }
            try await client.execute(uri: "/metrics", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType]?.hasPrefix("text/plain; version=0.0.4") == true)
                let text = String(buffer: response.body)
                #expect(text.contains(#"token_broker_http_requests_total{route="/healthz",method="GET",code="200"} 2"#))
                // Methods a client invents share one label value: they cannot add a series each.
                #expect(!text.contains("BREW") && !text.contains("X-RANDOM"))
                #expect(text.contains(#"method="other""#))
                #expect(text.contains("token_broker_http_request_duration_seconds_bucket"))
                #expect(text.contains("token_broker_signing_key_age_seconds"))
                #expect(text.contains("token_broker_published_keys 1"))
                #expect(!text.contains("/no/such/path/123"))
            }
        }
    }
}
