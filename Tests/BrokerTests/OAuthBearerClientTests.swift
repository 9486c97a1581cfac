import Foundation
import HTTPTypes
import JOSE
import TenantRegistry
import Testing

/// The three ways `/oauth2/*` accepts an API key (contract, caller table: "on every endpoint, /oauth2/* included").
enum ClientAuth: String, CaseIterable, Sendable {
    case basic, bearer, form

    /// The form fields and headers that present `key` this way.
    func present(_ key: String, fields: [(String, String)]) -> (fields: [(String, String)], basic: (String, String)?, headers: HTTPFields) {
        let (id, secret) = clientCredentials(key)
        switch self {
        case .basic: return (fields, (id, secret), [:])
        case .bearer: return (fields, nil, [.authorization: "Bearer \(key)"])
        case .form: return (fields + [("client_id", id), ("client_secret", secret)], nil, [:])
        }
    }
}

extension RegistryHarness.Client {
    func form(_ uri: String, _ fields: [(String, String)], key: String, as auth: ClientAuth) async throws -> Reply {
        let presented = auth.present(key, fields: fields)
        return try await form(uri, presented.fields, basic: presented.basic, headers: presented.headers)
    }
}

@Suite("API keys as Bearer on /oauth2/*: the same answers as Basic and form client authentication")
struct OAuthBearerClientTests {
    @Test("token, introspect and revoke answer a Bearer API key exactly as they answer Basic and form; scopes and tenants enforced")
    func sameAnswers() async throws {
        let harness = try await RegistryHarness.make(.sqlite)
        try await harness.run { client in
            for id in ["tenant1", "tenant2"] {
                #expect(try await client.send(.post, "/v1/tenants", json: tenantBody(id)).status == .created)
            }
            let minter = try await client.apiKey(["token:mint", "token:introspect"], tenants: ["tenant1"])
            let otherTenant = try await client.apiKey(["token:introspect", "token:mint"], tenants: ["tenant2"])
            let reader = try await client.apiKey(["tenants:read"])
            let (minterId, _) = clientCredentials(minter)
            let wrongSecret = minterId + "_not-the-secret"

            /// Status, error code and the members of a JSON answer, with the per-call token masked.
            func outcome(_ reply: RegistryHarness.Client.Reply) throws -> String {
                var body = (try? reply.json) ?? [:]
                if body["access_token"] != nil { body["access_token"] = .string("<token>") }
                for member in ["exp", "iat", "jti"] where body[member] != nil { body[member] = .string("<\(member)>") }
                return "\(reply.status.code) \(JSONValue.object(body).serializedString())"
            }

            var answers: [ClientAuth: [String]] = [:]
            for auth in ClientAuth.allCases {
                var seen: [String] = []
                let mint = try await client.form("/oauth2/token", [("grant_type", "client_credentials"), ("tenant", "tenant1")], key: minter, as: auth)
                #expect(mint.status == .ok, "\(auth): \(mint.text)")
                seen.append(try outcome(mint))
                let token = try #require(try mint.json["access_token"]?.stringValue)
                seen.append(try outcome(try await client.form("/oauth2/token", [("grant_type", "client_credentials"), ("tenant", "tenant2")], key: minter, as: auth)))
                seen.append(try outcome(try await client.form("/oauth2/token", [("grant_type", "client_credentials"), ("tenant", "tenant1")], key: reader, as: auth)))
                let active = try await client.form("/oauth2/introspect", [("token", token)], key: minter, as: auth)
                #expect(try active.json["active"] == .bool(true), "\(auth): \(active.text)")
                seen.append(try outcome(active))
                let foreign = try await client.form("/oauth2/introspect", [("token", token)], key: otherTenant, as: auth)
                #expect(try foreign.json == ["active": .bool(false)], "\(auth): a key of another tenant sees nothing")
                seen.append(try outcome(foreign))
                let noScope = try await client.form("/oauth2/introspect", [("token", token)], key: reader, as: auth)
                #expect(noScope.status == .forbidden, "\(auth)")
                seen.append(try outcome(noScope))
                let wrong = try await client.form("/oauth2/introspect", [("token", token)], key: wrongSecret, as: auth)
                #expect(wrong.status == .unauthorized, "\(auth)")
                #expect(try wrong.json["error"] == .string("invalid_client"))
                seen.append(try outcome(wrong))
                let revoked = try await client.form("/oauth2/revoke", [("token", token)], key: minter, as: auth)
                #expect(revoked.status == .ok, "\(auth): \(revoked.text)")
                seen.append(try outcome(revoked))
                let after = try await client.form("/oauth2/introspect", [("token", token)], key: minter, as: auth)
                #expect(try after.json == ["active": .bool(false)], "\(auth): revoked")
                seen.append(try outcome(after))
                answers[auth] = seen
            }
            #expect(answers[.bearer] == answers[.basic])
            #expect(answers[.bearer] == answers[.form])
        }
    }

    @Test("a Bearer API key beside another client authentication is refused; a Bearer that is no API key is invalid_client with a Bearer challenge")
    func oneMethodOnly() async throws {
        let harness = try await RegistryHarness.make(.sqlite)
        try await harness.run { client in
            #expect(try await client.send(.post, "/v1/tenants", json: tenantBody("tenant1")).status == .created)
            let minter = try await client.apiKey(["token:mint", "token:introspect"], tenants: ["tenant1"])
            let (id, secret) = clientCredentials(minter)
            let grant = [("grant_type", "client_credentials"), ("tenant", "tenant1")]
            let twice = try await client.form("/oauth2/token", grant + [("client_secret", secret)], headers: [.authorization: "Bearer \(minter)"])
            #expect(twice.status == .badRequest)
            #expect(try twice.json["error"] == .string("invalid_request"))
            let otherId = try await client.form("/oauth2/token", grant + [("client_id", "tbk_someoneelse")], headers: [.authorization: "Bearer \(minter)"])
            #expect(otherId.status == .unauthorized, "a client_id naming another key")
            let sameId = try await client.form("/oauth2/token", grant + [("client_id", id)], headers: [.authorization: "Bearer \(minter)"])
            #expect(sameId.status == .ok, "\(sameId.text)")
            let token = try #require(try sameId.json["access_token"]?.stringValue)
            for bearer in [token, "tbk_", "tbk_x", "not a key", String(repeating: "a", count: 9000)] {
                let reply = try await client.form("/oauth2/introspect", [("token", token)], headers: [.authorization: "Bearer \(bearer)"])
                #expect(reply.status == .unauthorized, "\(bearer.prefix(20))")
                #expect(try reply.json["error"] == .string("invalid_client"))
                #expect(reply.headers[.wwwAuthenticate]?.hasPrefix("Bearer") == true)
                #expect(!reply.text.contains(token), "the error body never echoes a token")
            }
        }
    }
}
