import Foundation
import HTTPTypes
import JOSE
import StoreTestSupport
import TenantRegistry
import Testing

@Suite("subtenants and features") struct SubtenantTests {
    @Test("create, list, read, partial update and logical delete, audited; 409 for a taken id, 404 for an unknown tenant", arguments: Backend.allCases)
    func lifecycle(backend: Backend) async throws {
        let harness = try await RegistryHarness.make(backend)
        try await harness.run { client in
            #expect(try await client.send(.post, "/v1/tenants", json: tenantBody("tenant1")).status == .created)
            let created = try await client.send(
                .post, "/v1/tenants/tenant1/subtenants",
                json: .object(["subtenantId": .string("sales"), "displayName": .string("Sales EMEA"), "features": .object(["bot": .bool(true)])]))
            #expect(created.status == .created, "\(created.text)")
            #expect(created.headers[.location] == "/v1/tenants/tenant1/subtenants/sales")
            #expect(created.headers[.eTag] == "\"v1\"")
            #expect(try created.json["features"] == .object(["bot": .bool(true)]))
            #expect(try created.json["status"] == .string("active"))
            let again = try await client.send(.post, "/v1/tenants/tenant1/subtenants", json: .object(["subtenantId": .string("sales")]))
            #expect(again.status == .conflict && again.code == "subtenant_exists")
            let orphan = try await client.send(.post, "/v1/tenants/nobody/subtenants", json: .object(["subtenantId": .string("sales")]))
            #expect(orphan.status == .notFound && orphan.code == "tenant_not_found")
            _ = try await client.send(.post, "/v1/tenants/tenant1/subtenants", json: .object(["subtenantId": .string("support")]))
            let list = try await client.send(.get, "/v1/tenants/tenant1/subtenants")
            #expect(try list.json["items"]?.arrayValue?.compactMap { $0.objectValue?["subtenantId"]?.stringValue } == ["sales", "support"])

            let patched = try await client.send(
                .patch, "/v1/tenants/tenant1/subtenants/sales", json: .object(["displayName": .string("Sales"), "features": .object(["bot": .bool(false)])]),
                headers: [.ifMatch: "\"v1\""])
            #expect(patched.status == .ok, "\(patched.text)")
            #expect(try patched.json["displayName"] == .string("Sales"))
            #expect(patched.headers[.eTag] == "\"v2\"")
            let stale = try await client.send(.patch, "/v1/tenants/tenant1/subtenants/sales", json: .object(["displayName": .string("x")]), headers: [.ifMatch: "\"v1\""])
            #expect(stale.status == .preconditionFailed)
            let fixed = try await client.send(.patch, "/v1/tenants/tenant1/subtenants/sales", json: .object(["subtenantId": .string("other")]))
            #expect(fixed.status == .unprocessableContent && fixed.code == "field_not_updatable")

            #expect(try await client.send(.delete, "/v1/tenants/tenant1/subtenants/sales").status == .noContent)
            let gone = try await client.send(.get, "/v1/tenants/tenant1/subtenants/sales")
            #expect(try gone.status == .ok && gone.json["status"] == .string("deleted"), "the record is kept")
            #expect(try gone.json["deletedAt"]?.stringValue != nil)
            #expect(try await client.send(.delete, "/v1/tenants/tenant1/subtenants/sales").code == "subtenant_not_found")
            #expect(try await client.send(.patch, "/v1/tenants/tenant1/subtenants/sales", json: .object(["displayName": .string("x")])).status == .notFound)
            let reused = try await client.send(.post, "/v1/tenants/tenant1/subtenants", json: .object(["subtenantId": .string("sales")]))
            #expect(reused.code == "subtenant_exists", "a deleted subtenant keeps its id")
            #expect(try await client.send(.get, "/v1/tenants/tenant1/subtenants/nobody").code == "subtenant_not_found")

            let audit = try await client.send(.get, "/v1/audit?tenantId=tenant1")
            let actions = try audit.json["items"]?.arrayValue?.compactMap { $0.objectValue?["action"]?.stringValue } ?? []
            for action in ["subtenant.create:sales", "subtenant.update:sales", "subtenant.delete:sales", "subtenant.create:support"] {
                #expect(actions.contains(action), "\(action) in \(actions)")
            }
            let summary = try await client.send(.get, "/v1/dashboard/summary")
            #expect(try summary.json["subtenants"] == .object(["total": .int(2), "active": .int(1)]))
        }
    }

    @Test(
        "bad subtenant ids and features are 422 with every field, and nothing is stored",
        arguments: [
            (JSONValue.object(["subtenantId": .string("Sales")]), ["subtenantId"]),
            (.object(["subtenantId": .string(String(repeating: "a", count: 64))]), ["subtenantId"]),
            (.object(["subtenantId": .string("sal\u{0435}s")]), ["subtenantId"]),
            (.object(["subtenantId": .string("a/b")]), ["subtenantId"]),
            (.object(["subtenantId": .int(1)]), ["subtenantId"]),
            (.object([:]), ["subtenantId"]),
            (.object(["subtenantId": .string("ok"), "features": .object(["Bot": .bool(true)])]), ["features.Bot"]),
            (.object(["subtenantId": .string("ok"), "features": .object(["bot": .string("yes")])]), ["features.bot"]),
            (.object(["subtenantId": .string("ok"), "features": .object(["b\u{043E}t": .bool(true)])]), ["features.b\u{043E}t"]),
            (.object(["subtenantId": .string("ok"), "features": .array([])]), ["features"]),
            (
                .object(["subtenantId": .string("ok"), "features": .object(Dictionary(uniqueKeysWithValues: (0..<65).map { ("f\($0)", JSONValue.bool(true)) }))]),
                ["features"]
            ),
            (.object(["subtenantId": .string("ok"), "displayName": .string("")]), ["displayName"]),
            (.object(["subtenantId": .string("ok"), "status": .string("active")]), ["status"]),
        ])
    func badInput(body: JSONValue, fields: [String]) async throws {
        let harness = try await RegistryHarness.make(.sqlite)
        try await harness.run { client in
            _ = try await client.send(.post, "/v1/tenants", json: tenantBody("tenant1"))
            let reply = try await client.send(.post, "/v1/tenants/tenant1/subtenants", json: body)
            #expect(reply.status == .unprocessableContent, "\(reply.text)")
            #expect(try reply.errorFields == fields)
            #expect(try await client.send(.get, "/v1/tenants/tenant1/subtenants").json["items"] == .array([]))
        }
    }

    @Test("tenant admins manage their own subtenants; other tenants' callers get 404; a subtenant key reads only its own")
    func callers() async throws {
        let harness = try await RegistryHarness.make(.sqlite)
        try await harness.run { client in
            for id in ["tenant1", "tenant2"] { _ = try await client.send(.post, "/v1/tenants", json: tenantBody(id)) }
            let own = try await client.apiKey(["tenants:read", "tenants:write"], tenants: ["tenant1"])
            let other = try await client.apiKey(["tenants:read", "tenants:write"], tenants: ["tenant2"])
            let reader = try await client.apiKey(["token:mint"], tenants: ["tenant1"])
            #expect(try await client.send(.post, "/v1/tenants/tenant1/subtenants", json: .object(["subtenantId": .string("sub1")]), key: own).status == .created)
            _ = try await client.send(.post, "/v1/tenants/tenant1/subtenants", json: .object(["subtenantId": .string("sub2")]))
            for (method, path) in [
                (HTTPRequest.Method.get, "/v1/tenants/tenant1/subtenants"), (.get, "/v1/tenants/tenant1/subtenants/sub1"),
                (.delete, "/v1/tenants/tenant1/subtenants/sub1"), (.get, "/v1/tenants/tenant1/features"),
            ] {
                let reply = try await client.send(method, path, key: other)
                #expect(reply.status == .notFound && reply.code == "tenant_not_found", "\(method) \(path): \(reply.text)")
            }
            let created = try await client.send(.post, "/v1/tenants/tenant1/subtenants", json: .object(["subtenantId": .string("x")]), key: other)
            #expect(created.status == .notFound)
            #expect(try await client.send(.get, "/v1/tenants/tenant1/subtenants", key: reader).status == .forbidden)
            #expect(try await client.send(.get, "/v1/tenants/tenant1/subtenants", key: .some(nil)).status == .unauthorized)

            let subKey = try await client.apiKey(["tenants:read"], tenants: ["tenant1/sub1"])
            #expect(try await client.send(.get, "/v1/tenants/tenant1/subtenants/sub1", key: subKey).status == .ok)
            #expect(try await client.send(.get, "/v1/tenants/tenant1/subtenants/sub2", key: subKey).code == "subtenant_not_found")
            #expect(try await client.send(.get, "/v1/tenants/tenant1/subtenants", key: subKey).status == .forbidden, "not the whole tenant's list")
            #expect(try await client.send(.get, "/v1/tenants/tenant1", key: subKey).status == .forbidden, "nor the tenant's document")
            #expect(try await client.send(.get, "/v1/tenants/tenant2", key: subKey).status == .notFound)
            let badEntry = try await client.send(
                .post, "/v1/api-keys", json: .object(["name": .string("x"), "scopes": .array([.string("otp")]), "tenants": .array([.string("tenant1/Sub")])]))
            #expect(badEntry.status == .unprocessableContent)
            #expect(try await client.send(.get, "/v1/tenants/tenant2/subtenants/sub1", key: own).status == .notFound, "a subtenant id under another tenant")
            #expect(try await client.send(.get, "/v1/tenants/tenant2/subtenants/sub1").code == "subtenant_not_found")
        }
    }

    @Test("minting for a subtenant: the subtenant_id claim; unknown 404 / invalid_target; deleted or inactive tenant 403; subtenant keys stay in their lane", arguments: Backend.allCases)
    func minting(backend: Backend) async throws {
        let harness = try await RegistryHarness.make(backend)
        try await harness.run { client in
            for id in ["tenant1", "sus"] { _ = try await client.send(.post, "/v1/tenants", json: tenantBody(id)) }
            for (tenant, sub) in [("tenant1", "sub1"), ("tenant1", "sub2"), ("tenant1", "gone"), ("sus", "sub1")] {
                #expect(try await client.send(.post, "/v1/tenants/\(tenant)/subtenants", json: .object(["subtenantId": .string(sub)])).status == .created)
            }
            _ = try await client.send(.delete, "/v1/tenants/tenant1/subtenants/gone")
            _ = try await client.send(.post, "/v1/tenants/sus/suspend")
            let key = try await client.apiKey(["token:mint"], tenants: ["tenant1", "sus"])
            let minted = try await client.send(.post, "/v1/tenants/tenant1/token", json: .object(["subtenant": .string("sub1")]), key: key)
            #expect(minted.status == .ok, "\(minted.text)")
            #expect(try minted.json["subtenant_id"] == .string("sub1"))
            let token = try #require(try minted.json["access_token"]?.stringValue)
            #expect(try JWS.unverifiedClaims(token)["subtenant_id"] == .string("sub1"))
            let plain = try await client.send(.post, "/v1/tenants/tenant1/token", key: key)
            #expect(try plain.json["subtenant_id"] == nil)
            #expect(try JWS.unverifiedClaims(try #require(try plain.json["access_token"]?.stringValue))["subtenant_id"] == nil)

            func code(_ tenant: String, _ body: JSONValue, _ key: String) async throws -> (HTTPResponse.Status, String?) {
                let reply = try await client.send(.post, "/v1/tenants/\(tenant)/token", json: body, key: key)
                return (reply.status, reply.code)
            }
            #expect(try await code("tenant1", .object(["subtenant": .string("nobody")]), key) == (.notFound, "subtenant_not_found"))
            #expect(try await code("tenant1", .object(["subtenant": .string("gone")]), key) == (.forbidden, "tenant_inactive"))
            #expect(try await code("sus", .object(["subtenant": .string("sub1")]), key) == (.forbidden, "tenant_inactive"))
            #expect(try await code("tenant1", .object(["subtenant": .string("Sub1")]), key) == (.unprocessableContent, "validation_failed"))
            #expect(try await code("tenant1", .object(["subtenant": .int(1)]), key) == (.unprocessableContent, "validation_failed"))

            let subKey = try await client.apiKey(["token:mint"], tenants: ["tenant1/sub1"])
            #expect(try await code("tenant1", .object(["subtenant": .string("sub1")]), subKey).0 == .ok)
            #expect(try await code("tenant1", .object(["subtenant": .string("sub2")]), subKey) == (.notFound, "subtenant_not_found"))
            #expect(try await code("tenant1", .object([:]), subKey) == (.forbidden, "forbidden"), "not the parent")
            #expect(try await code("sus", .object(["subtenant": .string("sub1")]), subKey) == (.notFound, "tenant_not_found"))

            let (id, secret) = clientCredentials(subKey)
            let oauth = try await client.form("/oauth2/token", [("grant_type", "client_credentials"), ("tenant", "tenant1"), ("subtenant", "sub1")], basic: (id, secret))
            #expect(oauth.status == .ok, "\(oauth.text)")
            #expect(try JWS.unverifiedClaims(try #require(try oauth.json["access_token"]?.stringValue))["subtenant_id"] == .string("sub1"))
            for subtenant in ["sub2", "nobody", "gone", "Sub1", "../x"] {
                let refused = try await client.form(
                    "/oauth2/token", [("grant_type", "client_credentials"), ("tenant", "tenant1"), ("subtenant", subtenant)], basic: (id, secret))
                #expect(try refused.status == .badRequest && refused.json["error"] == .string("invalid_target"), "\(subtenant)")
            }
            let parent = try await client.form("/oauth2/token", [("grant_type", "client_credentials"), ("tenant", "tenant1")], basic: (id, secret))
            #expect(try parent.json["error"] == .string("invalid_target"))
        }
    }

    @Test("verification: X-Auth-Subtenant, hints that must match, introspection's subtenant_id; deleting the subtenant or suspending its tenant stops its tokens at once", arguments: Backend.allCases)
    func verification(backend: Backend) async throws {
        let harness = try await RegistryHarness.make(backend)
        try await harness.run { client in
            _ = try await client.send(.post, "/v1/tenants", json: tenantBody("tenant1"))
            for sub in ["sub1", "sub2"] { _ = try await client.send(.post, "/v1/tenants/tenant1/subtenants", json: .object(["subtenantId": .string(sub)])) }
            func mint(_ sub: String?) async throws -> String {
                let body: JSONValue = sub.map { .object(["subtenant": .string($0)]) } ?? .object([:])
                return try #require(try await client.send(.post, "/v1/tenants/tenant1/token", json: body).json["access_token"]?.stringValue)
            }
            let token = try await mint("sub1")
            let other = try await mint("sub2")
            let plain = try await mint(nil)
            let ok = try await client.send(.get, "/v1/verify", key: token)
            #expect(ok.status == .ok)
            #expect(ok.headers[HTTPField.Name("X-Auth-Subtenant")!] == "sub1")
            #expect(ok.headers[HTTPField.Name("X-Auth-Tenant")!] == "tenant1")
            #expect(try await client.send(.get, "/v1/verify", key: plain).headers[HTTPField.Name("X-Auth-Subtenant")!] == nil)
            let subtenantHeader = HTTPField.Name("X-Subtenant")!
            #expect(try await client.send(.get, "/v1/verify?subtenant=sub1", key: token).status == .ok)
            #expect(try await client.send(.get, "/v1/verify?subtenant=sub2", key: token).status == .forbidden)
            #expect(try await client.send(.get, "/v1/verify", key: token, headers: [subtenantHeader: "sub1"]).status == .ok)
            #expect(try await client.send(.get, "/v1/verify", key: token, headers: [subtenantHeader: "sub2"]).status == .forbidden)
            #expect(try await client.send(.get, "/v1/verify", key: plain, headers: [subtenantHeader: "sub1"]).status == .forbidden)

            let introspector = try await client.apiKey(["token:introspect"], tenants: ["tenant1"])
            let (id, secret) = clientCredentials(introspector)
            let active = try await client.form("/oauth2/introspect", [("token", token)], basic: (id, secret))
            #expect(try active.json["active"] == .bool(true))
            #expect(try active.json["subtenant_id"] == .string("sub1"))
            #expect(try await client.form("/oauth2/introspect", [("token", plain)], basic: (id, secret)).json["subtenant_id"] == nil)
            // An introspector limited to sub2 sees sub2's tokens only: not sub1's, not the tenant's own.
            let (sub2Id, sub2Secret) = clientCredentials(try await client.apiKey(["token:introspect"], tenants: ["tenant1/sub2"]))
            #expect(try await client.form("/oauth2/introspect", [("token", other)], basic: (sub2Id, sub2Secret)).json["active"] == .bool(true))
            #expect(try await client.form("/oauth2/introspect", [("token", token)], basic: (sub2Id, sub2Secret)).json["active"] == .bool(false))
            #expect(try await client.form("/oauth2/introspect", [("token", plain)], basic: (sub2Id, sub2Secret)).json["active"] == .bool(false))

            #expect(try await client.send(.delete, "/v1/tenants/tenant1/subtenants/sub1").status == .noContent)
            let refused = try await client.send(.get, "/v1/verify", key: token)
            #expect(refused.status == .unauthorized, "the cached success is not served after the delete")
            #expect(refused.headers[.wwwAuthenticate]?.contains("subtenant is not active") == true)
            #expect(try await client.form("/oauth2/introspect", [("token", token)], basic: (id, secret)).json["active"] == .bool(false))
            #expect(try await client.send(.get, "/v1/verify", key: other).status == .ok, "its sibling is untouched")
            _ = try await client.send(.post, "/v1/tenants/tenant1/suspend")
            #expect(try await client.send(.get, "/v1/verify", key: other).status == .unauthorized)
        }
    }

    @Test("features: on the tenant (create, PATCH) and each subtenant; the effective map, subtenant over tenant")
    func features() async throws {
        let harness = try await RegistryHarness.make(.sqlite)
        try await harness.run { client in
            let created = try await client.send(.post, "/v1/tenants", json: tenantBody("tenant1") { $0["features"] = .object(["bot": .bool(true), "voice": .bool(false)]) })
            #expect(created.status == .created, "\(created.text)")
            #expect(try created.json["features"] == .object(["bot": .bool(true), "voice": .bool(false)]))
            _ = try await client.send(.post, "/v1/tenants/tenant1/subtenants", json: .object(["subtenantId": .string("sub1"), "features": .object(["voice": .bool(true)])]))
            #expect(try await client.send(.get, "/v1/tenants/tenant1/features").json["features"] == .object(["bot": .bool(true), "voice": .bool(false)]))
            #expect(try await client.send(.get, "/v1/tenants/tenant1/features?subtenant=sub1").json["features"] == .object(["bot": .bool(true), "voice": .bool(true)]))
            #expect(try await client.send(.get, "/v1/tenants/tenant1/features?subtenant=nobody").code == "subtenant_not_found")
            let patched = try await client.send(.patch, "/v1/tenants/tenant1", json: .object(["features": .object(["bot": .bool(false)])]))
            #expect(patched.status == .ok, "\(patched.text)")
            #expect(try await client.send(.get, "/v1/tenants/tenant1/features?subtenant=sub1").json["features"] == .object(["bot": .bool(false), "voice": .bool(true)]))
            let bad = try await client.send(.patch, "/v1/tenants/tenant1", json: .object(["features": .object(["bot": .int(1)])]))
            #expect(try bad.status == .unprocessableContent && bad.errorFields == ["features.bot"])
            #expect(try await client.send(.get, "/v1/tenants/tenant1").json["features"] == .object(["bot": .bool(false)]), "nothing stored")
            // A token of the tenant reads its features without tenants:read.
            let token = try #require(try await client.send(.post, "/v1/tenants/tenant1/token", json: .object(["subtenant": .string("sub1")])).json["access_token"]?.stringValue)
            #expect(try await client.send(.get, "/v1/tenants/tenant1/features?subtenant=sub1", key: token).status == .ok)
            #expect(try await client.send(.get, "/v1/tenants/tenant1/features", key: token).status == .forbidden, "a subtenant's token reads its own map")
        }
    }
}
