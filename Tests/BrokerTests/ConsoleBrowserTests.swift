import Foundation
import KeycloakDouble
import StoreTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The operator console in a real browser: headless Chromium and chromedriver from Debian's packages, driven by
/// Selenium from PyPI (all installed by scripts/install-test-deps.sh), against the real binary on a fresh store.
/// The checks are in Tests/browser/console_test.py; its screenshots are kept in .build/test-artifacts/console.
@Suite("operator console in headless Chromium", .serialized) struct ConsoleBrowserTests {
    @Test("sign in with a key (and as a Keycloak admin), create a tenant with 2FA (a bad otpExpiry shown by its field), logo preview, list, dashboard counts, suspend/resume/delete, an API key shown once and revoked, an XSS probe as text, audit, keys, keyboard, sign-out and expiry")
    func console() async throws {
        let scratch = ScratchDirectory()
        let database = "sqlite:\(scratch.path)/console.sqlite"
        let key = try await bootstrapAdminKey(database: database, directory: scratch.path)
        // The master realm's system admin `ada` signs in through /v1/login, as the portal's operators would.
        let keycloak = try await KeycloakDouble.portalAndTenant(
            brokerSecret: "broker-secret", adminPassword: "ada-password", tenantSecret: "s3cret-t1", agentPassword: "agent-password")
        defer { keycloak.stop() }
        let broker = try await BrokerProcess.serve(
            keysDir: scratch.path + "/keys", directory: scratch.path,
            extraArguments: ["--database", database, "--keycloak-url", keycloak.base, "--keycloak-client-secret", "broker-secret", "--log-level", "debug"])
        defer { broker.signal(SIGKILL) }
        let artifacts = PythonPeer.repositoryRoot + "/.build/test-artifacts/console"
        let (status, output) = try await runToFile(
            [
                "python3", PythonPeer.repositoryRoot + "/Tests/browser/console_test.py", "--url", broker.baseURL, "--key", key, "--screenshots", artifacts,
                "--login-user", "ada", "--login-password", "ada-password",
            ], outputPath: scratch.path + "/browser.out")
        #expect(status == 0, "\(output)")
        #expect(output.contains("console browser test: 0 failed check(s)"), "\(output)")
        for name in ["console-dashboard.png", "console-tenants.png"] {
            #expect(FileManager.default.fileExists(atPath: artifacts + "/" + name), "screenshot \(name)")
        }
        #expect(keycloak.count("logout") >= 1, "signing out of a Keycloak session ends it")
        // At debug level, neither the key's secret nor the admin's password is in any log line.
        for secret in [key.split(separator: "_").last.map(String.init) ?? key, "ada-password"] {
            #expect(!broker.log.contains(secret), "a secret is in the log")
        }
    }
}
