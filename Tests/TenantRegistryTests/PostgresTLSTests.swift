import Foundation
import Logging
import StoreTestSupport
import TenantRegistry
import Testing

@Suite("TLS to PostgreSQL: sslmode and sslrootcert in the database URL") struct PostgresTLSTests {
    @Test("sslmode values parse; prefer and allow (plaintext fallback), unknown values and stray parameters are refused", arguments: [
        ("?sslmode=disable", "disable"), ("", "disable"), ("?sslmode=require", "require"),
        ("?sslmode=verify-ca&sslrootcert=/etc/ca.pem", "verify-ca"), ("?sslmode=verify-full", "verify-full"),
    ])
    func parses(query: String, mode: String) throws {
        let location = try DatabaseLocation.parse("postgres://u:p@db.example:5432/broker" + query)
        guard case .postgres(_, _, _, _, _, let tls) = location else { Issue.record("not postgres"); return }
        switch (tls, mode) {
        case (.disable, "disable"), (.require, "require"), (.verifyCA("/etc/ca.pem"), "verify-ca"), (.verifyFull(nil), "verify-full"): break
        default: Issue.record("\(query) gave \(tls)")
        }
        #expect(!location.description.contains(":p@"), "never the password")
    }

    @Test("bad TLS parameters are refused with a message that says what is allowed", arguments: [
        "?sslmode=prefer", "?sslmode=allow", "?sslmode=VERIFY-FULL", "?sslmode=", "?sslrootcert=/ca.pem", "?sslmode=require&sslrootcert=/ca.pem",
        "?sslmode=require&sslmode=disable", "?application_name=x", "?sslmode=verify-full&sslcert=/c.pem",
    ])
    func refuses(query: String) {
        #expect(throws: FieldError.self, "\(query)") { try DatabaseLocation.parse("postgres://u:p@db.example:5432/broker" + query) }
    }

    @Test("against the test server (TLS with a test CA's certificate for 127.0.0.1): verify-full, verify-ca and require connect; an unknown CA does not")
    func connects() async throws {
        let base = try Backend.postgresURL
        guard let ca = ProcessInfo.processInfo.environment["TOKEN_BROKER_TEST_POSTGRES_CA"] else {
            throw TestFailure("TOKEN_BROKER_TEST_POSTGRES_CA is not set: run the suite with scripts/test")
        }
        let localhost = base.replacingOccurrences(of: "@127.0.0.1:", with: "@localhost:")
        // Each try opens a pool and migrates: take turns with the other PostgreSQL set-ups (SetupGate.postgres), so a
        // loaded CI machine does not push a connection that should work past the store's deadline. A setting that
        // should work gets three tries: under a loaded suite one try can still miss the store's 5 s deadline (it did
        // in CI), which says nothing about TLS; a setting that must fail fails every try, so it gets one.
        func works(_ url: String, tries: Int = 3) async -> Bool {
            for _ in 1...tries {
                await SetupGate.postgres.enter()
                let ok = await connects(url)
                await SetupGate.postgres.leave()
                if ok { return true }
            }
            return false
        }
        func connects(_ url: String) async -> Bool {
            guard let location = try? DatabaseLocation.parse(url),
                let store = try? await SQLTenantStore.open(location, sealer: .ephemeral(), logger: Logger(label: "test"))
            else { return false }
            let migrated = (try? await store.migrate()) != nil
            let read = (try? await store.apiKeys()) != nil
            await store.close()
            return migrated && read
        }
        #expect(await works(base + "?sslmode=verify-full&sslrootcert=\(ca)"))
        #expect(await works(base + "?sslmode=verify-ca&sslrootcert=\(ca)"))
        #expect(await works(base + "?sslmode=require"))
        #expect(await works(localhost + "?sslmode=verify-ca&sslrootcert=\(ca)"), "verify-ca does not check the name")
        // swift-nio-ssl accepts a certificate whose IP address names the peer connected to, whatever host name led
        // there: localhost reaches 127.0.0.1, which the certificate names (README, "Security").
        #expect(await works(localhost + "?sslmode=verify-full&sslrootcert=\(ca)"))
        #expect(!(await works(base + "?sslmode=verify-full", tries: 1)), "the system's roots do not know the test CA")
        #expect(!(await works(base + "?sslmode=verify-ca", tries: 1)), "the system's roots do not know the test CA")
    }
}
