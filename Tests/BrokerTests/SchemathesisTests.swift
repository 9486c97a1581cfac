import Foundation
import JOSE
import KeycloakDouble
import OTPManagerDouble
import StoreTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// schemathesis (from PyPI, installed by scripts/install-test-deps.sh) against the OpenAPI document and the real
/// binary: every answer to what it generates, valid and invalid, must match the document's status codes, content
/// types, headers and schemas, and none may be a server error. Bounded by a fixed seed and example count, so a run
/// is repeatable and takes about a minute on 2 cores. The upstream-dependent routes (logins, OTP) reach the
/// Keycloak and OTP Manager doubles.
@Suite("the OpenAPI document against the running broker (schemathesis)", .serialized) struct SchemathesisTests {
    /// What schemathesis checks. Left out: `positive_data_acceptance` and `negative_data_rejection` (they assume
    /// that valid input can only be refused for its shape, not for state: an unknown tenant's 404, a suspended
    /// tenant's 403), `use_after_free` and `ensure_resource_availability` (resources are logically deleted and
    /// stay readable by design), `missing_required_header`, `unsupported_method` and `allow_header_conformance`
    /// (405s answer the router's problem body, tested in RouterTests).
    static let checks = [
        "not_a_server_error", "status_code_conformance", "content_type_conformance", "response_headers_conformance",
        "response_schema_conformance", "ignored_auth",
    ]

    /// Runs schemathesis to completion on a thread of its own and returns its exit status and standard output.
    static func schemathesis(_ arguments: [String], environment: [String: String], directory: String) async throws -> (
        status: Int32, output: String
    ) {
        try await runToFile(
            [
                "python3", "-c", "import sys; from schemathesis.cli import schemathesis; sys.argv[0] = 'schemathesis'; sys.exit(schemathesis())",
                "--config-file", PythonPeer.repositoryRoot + "/Tests/Support/schemathesis.toml",
            ] + arguments, outputPath: directory + "/schemathesis.out", directory: directory,
            environment: environment.merging(["NO_COLOR": "1", "COLUMNS": "160"]) { $1 })
    }

    /// The number after `label` in schemathesis's summary ("Selected: 33/33", "Tested: 33").
    static func count(after label: String, in output: String) -> Int? {
        guard let range = output.range(of: label, options: .backwards) else { return nil }
        return Int(output[range.upperBound...].prefix { $0.isNumber })
    }

    @Test("schemathesis finds no server error and no status-code, content-type, header or schema violation")
    func conformance() async throws {
        let scratch = ScratchDirectory()
        let keycloak = try await KeycloakDouble.portalAndTenant(
            brokerSecret: "broker-secret", adminPassword: "ada-password", tenantSecret: "s3cret-t1", agentPassword: "agent-password")
        let otp = OTPManagerDouble()
        try await otp.start()
        defer {
            keycloak.stop()
            otp.stop()
        }
        let database = "sqlite:\(scratch.path)/store.sqlite"
        let adminKey = try await bootstrapAdminKey(database: database, directory: scratch.path)
        let broker = try await BrokerProcess.serve(
            keysDir: scratch.path + "/keys", directory: scratch.path,
            extraArguments: [
                "--database", database, "--keycloak-url", keycloak.base, "--keycloak-client-secret", "broker-secret",
            ])
        defer { broker.signal(SIGKILL) }
        let base = "http://127.0.0.1:\(broker.port)"
        // Tenants whose login and OTP routes reach the doubles; the config's dictionary names them (and `tenant1`,
        // the document's example, which schemathesis may create).
        for id in ["t1", "tenant2"] {
            let tenant = tenantBody(id) { body in
                body["keycloak"] = .object([
                    "realm": .string("t1"), "clientId": .string("cx-portal"), "clientSecret": .string("s3cret-t1"), "Otp_Manager_Url": .string(otp.url),
                ])
            }
            let created = try await HTTP.send(.POST, base + "/v1/tenants", key: adminKey, json: tenant)
            #expect(created.status == 201, "\(created.text)")
        }
        // The one key schemathesis may revoke (schemathesis.toml): revoking the test's own key would end the run's
        // coverage at the first 401.
        let revocable = try await HTTP.send(
            .POST, base + "/v1/api-keys", key: adminKey,
            json: .object(["name": .string("revocable"), "scopes": .array([.string("tenants:read")]), "tenants": .array([.string("t1")])]))
        let revocableKey = try #require(revocable.json["key"]?.stringValue, "\(revocable.text)")
        #expect(try await HTTP.send(.GET, base + "/v1/tenants/t1", key: revocableKey).status == 200)

        let (status, output) = try await Self.schemathesis(
            [
                "run", PythonPeer.repositoryRoot + "/Sources/Broker/Resources/openapi.yaml", "--url", base,
                "--header", "Authorization: Bearer \(adminKey)", "--checks", Self.checks.joined(separator: ","),
                "--seed", "20261206", "--max-examples", "40", "--workers", "1", "--no-color",
                "--suppress-health-check", "all", "--generation-database", "none", "--request-timeout", "15",
            ],
            environment: ["TOKEN_BROKER_SCHEMATHESIS_REVOCABLE_KEY": try #require(revocable.json["id"]?.stringValue)],
            directory: scratch.path)
        #expect(status == 0, "schemathesis failed (exit \(status)):\n\(output.suffix(12000))")
        // It ran: every operation was tested (a document that fails to load would exit non-zero too).
        let selected = Self.count(after: "Selected: ", in: output)
        #expect(selected != nil && selected == Self.count(after: "Tested: ", in: output), "every operation was tested: \(output.suffix(2000))")
        // The run kept its credential to the end, and reached the revocation's 204.
        #expect(try await HTTP.send(.GET, base + "/v1/api-keys", key: adminKey).status == 200)
        #expect(try await HTTP.send(.GET, base + "/v1/tenants/t1", key: revocableKey).status == 401)
        // Some of its generated tenants were created, so 201s were checked against the schema too.
        let listed = try await HTTP.send(.GET, base + "/v1/tenants?limit=100", key: adminKey)
        #expect((listed.json["items"]?.arrayValue?.count ?? 0) > 2, "\(listed.text.prefix(300))")
        #expect(broker.process.isRunning, "the broker survived the run")
        print("schemathesis summary:\n\(output.components(separatedBy: "\n").suffix(25).joined(separator: "\n"))")
    }
}
