import AsyncHTTPClient
import Broker
import Foundation
import JOSE
import KeycloakDouble
import Logging
import NIOCore
import NIOHTTP1
import OTPManagerDouble
import StoreTestSupport
import TenantRegistry
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension HTTP.Reply {
    var json: [String: JSONValue] { (try? JSONParser().parseObject(body)) ?? [:] }
}

extension HTTP {
    /// A form POST with the given headers (Authorization included when wanted).
    static func postForm(_ url: String, _ fields: [(String, String)], headers: [(String, String)] = []) async throws -> Reply {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        let body = fields.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)" }.joined(separator: "&")
        request.body = .bytes(ByteBuffer(bytes: Array(body.utf8)))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        return Reply(status: Int(response.status.code), headers: response.headers, body: Array(buffer: try await response.body.collect(upTo: 1 << 20)))
    }
}

extension KeycloakDouble {
    /// A started double with the master realm (client `token-broker`, system admin `ada`) and realm `t1` (client
    /// `cx-portal`, user `agent` with an email and a phone number): portal login and a tenant login with 2FA.
    static func portalAndTenant(
        brokerSecret: String, adminPassword: String, tenantSecret: String, agentPassword: String
    ) async throws -> KeycloakDouble {
        let keycloak = try KeycloakDouble(realms: ["master", "t1"])
        keycloak.addClient("master", "token-broker", .init(secret: brokerSecret))
        keycloak.addUser("master", "ada", .init(password: adminPassword, email: "ada@example.com", roles: ["admin"]))
        keycloak.addClient("t1", "cx-portal", .init(secret: tenantSecret))
        keycloak.addUser("t1", "agent", .init(password: agentPassword, email: "jane@example.com", phone: "+15551234567", roles: ["agent"]))
        try await keycloak.start()
        return keycloak
    }
}

@Suite("no secret reaches the log at any level", .serialized) struct LogSecrecyTests {
    @Test("text log lines quote what could end a field: a hostile username stays one value on one line")
    func textQuoting() {
        let line = TextLogHandler.format(
            at: Date(timeIntervalSince1970: 0), level: .notice, label: "token-broker",
            metadata: [
                "username": .string("bob status=200 route=/healthz"), "plain": .string("tenant1.expertflow.com"), "empty": .string(""),
                "newline": .string("a\nb\r\u{1B}[31m\"q\"\\"), "list": .array([.string("x y")]),
            ], source: "Broker", message: "login\nthrottled")
        #expect(line.contains(#"username="bob status=200 route=/healthz""#), "\(line)")
        #expect(line.contains("plain=tenant1.expertflow.com "), "safe values stay bare: \(line)")
        #expect(line.contains(#"empty="""#))
        #expect(line.contains(#"newline="a\nb\r\u{1b}[31m\"q\"\\""#), "\(line)")
        #expect(line.contains(#"list="[\"x y\"]""#), "\(line)")
        #expect(!line.contains("\n") && !line.contains("\r") && !line.contains("\u{1B}"), "one line, no control characters")
        #expect(line.hasSuffix("[Broker] login\\nthrottled"))
        // Every `key=` in the line is one of the metadata keys: nothing was forged.
        // Split as a reader would: at spaces outside quotes, `\"` inside quotes being part of the value.
        var fields: [String] = []
        var current = ""
        var quoted = false
        var escaped = false
        for character in line {
            if escaped {
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else if character == "\"" {
                quoted.toggle()
            } else if character == " ", !quoted {
                fields.append(current)
                current = ""
                continue
            }
            current.append(character)
        }
        fields.append(current)
        let keys = fields.compactMap { field in field.firstIndex(of: "=").map { String(field[..<$0]) } }.filter { !$0.contains("\"") }
        #expect(Set(keys) == ["username", "plain", "empty", "newline", "list"], "\(keys)")
    }

    @Test("a debug-level run that creates tenants with secrets, logs in with 2FA, mints, introspects and revokes logs none of the secrets, hashes, passwords, tokens or codes it saw")
    func debugLogHoldsNoSecrets() async throws {
        let scratch = ScratchDirectory()
        let tenantSecret = "tenant-client-secret-\(UUID().uuidString)"
        let brokerSecret = "broker-client-secret-\(UUID().uuidString)"
        let adaPassword = "ada-password-\(UUID().uuidString)"
        let agentPassword = "agent-password-\(UUID().uuidString)"
        let wrongPassword = "wrong-password-\(UUID().uuidString)"
        let sealingKey = Data(Crypto.randomBytes(32)).base64EncodedString()
        let secretsKey = Data(Crypto.randomBytes(32)).base64EncodedString()
        let keycloak = try await KeycloakDouble.portalAndTenant(
            brokerSecret: brokerSecret, adminPassword: adaPassword, tenantSecret: tenantSecret, agentPassword: agentPassword)
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
                "--database", database, "--log-level", "debug", "--keycloak-url", keycloak.base,
                "--keycloak-client-secret", brokerSecret,
            ],
            environment: ["TOKEN_BROKER_OTP_SEALING_KEY": sealingKey, "TOKEN_BROKER_SECRETS_KEY": secretsKey])
        defer { broker.signal(SIGKILL) }
        let base = "http://127.0.0.1:\(broker.port)"
        var seen: [String: String] = [
            "tenant client secret": tenantSecret, "broker client secret": brokerSecret, "admin password": adaPassword,
            "agent password": agentPassword, "wrong password": wrongPassword, "OTP sealing key": sealingKey, "secrets key": secretsKey,
            "admin API key": adminKey, "admin API key secret": clientCredentials(adminKey).1,
            "admin API key hash": APIKeyRecord.hash(secret: clientCredentials(adminKey).1),
            "phone number": "5551234567",
        ]

        var tenant = tenantBody("t1") { body in
            body["keycloak"] = .object([
                "realm": .string("t1"), "clientId": .string("cx-portal"), "clientSecret": .string(tenantSecret), "Otp_Manager_Url": .string(otp.url),
            ])
            body["twoFAConfig"] = .object([
                "isEnabled": .bool(true), "channelType": .string("SMS"), "serviceIdentifier": .string("svc-1"), "otpExpiry": .int(120),
                "retryLimit": .int(3),
            ])
        }
        #expect(try await HTTP.send(.POST, base + "/v1/tenants", key: adminKey, json: tenant).status == 201)
        tenant = .object([:])
        let created = try await HTTP.send(
            .POST, base + "/v1/api-keys", key: adminKey,
            json: .object(["name": .string("svc"), "scopes": .array([.string("token:mint"), .string("token:introspect")]), "tenants": .array([.string("t1")])]))
        let componentKey = try #require(created.json["key"]?.stringValue)
        seen["component API key"] = componentKey
        seen["component API key hash"] = APIKeyRecord.hash(secret: clientCredentials(componentKey).1)

        // Portal login, a wrong password, refresh and logout.
        let login = try await HTTP.send(.POST, base + "/v1/login", key: nil, json: credentials("ada", adaPassword))
        #expect(login.status == 200, "\(login.text)")
        let access = try #require(login.json["access_token"]?.stringValue)
        let refresh = try #require(login.json["refresh_token"]?.stringValue)
        seen["portal access token"] = access
        seen["portal refresh token"] = refresh
        #expect(try await HTTP.send(.POST, base + "/v1/login", key: nil, json: credentials("ada", wrongPassword)).status == 401)
        #expect(try await HTTP.send(.GET, base + "/v1/dashboard/summary", key: access).status == 200)

        // Tenant login with a second factor: a wrong code, then the right one.
        let challenge = try await HTTP.send(.POST, base + "/v1/tenants/t1/login", key: nil, json: credentials("agent", agentPassword))
        #expect(challenge.status == 202, "\(challenge.text)")
        let challengeId = try #require(challenge.json["challengeId"]?.stringValue)
        let code = try #require(otp.code(for: challengeId))
        seen["OTP"] = code
        let wrongCode = code == "000000" ? "111111" : "000000"
        #expect(try await HTTP.send(.POST, base + "/v1/tenants/t1/login/otp", key: nil, json: .object(["challengeId": .string(challengeId), "otp": .string(wrongCode)])).status == 401)
        let released = try await HTTP.send(.POST, base + "/v1/tenants/t1/login/otp", key: nil, json: .object(["challengeId": .string(challengeId), "otp": .string(code)]))
        #expect(released.status == 200, "\(released.text)")
        seen["tenant user access token"] = try #require(released.json["access_token"]?.stringValue)

        // Mint, verify, introspect (Bearer and Basic), revoke, refresh and log out.
        let minted = try await HTTP.send(.POST, base + "/v1/tenants/t1/token", key: componentKey)
        let token = try #require(minted.json["access_token"]?.stringValue)
        seen["cx-tenant token"] = token
        seen["cx-tenant token signature"] = String(token.split(separator: ".").last!)
        #expect(try await HTTP.get(base + "/v1/verify", headers: [("Authorization", "Bearer \(token)")]).status == 200)
        let introspected = try await HTTP.postForm(base + "/oauth2/introspect", [("token", token)], headers: [("Authorization", "Bearer \(componentKey)")])
        #expect(introspected.json["active"] == .bool(true), "\(introspected.text)")
        let oauthMint = try await HTTP.sendForm(base + "/oauth2/token", key: componentKey, fields: [("grant_type", "client_credentials"), ("tenant", "t1")])
        seen["oauth2 token"] = try #require(oauthMint.json["access_token"]?.stringValue)
        #expect(try await HTTP.sendForm(base + "/oauth2/revoke", key: componentKey, fields: [("token", token)]).status == 200)
        #expect(try await HTTP.get(base + "/v1/verify", headers: [("Authorization", "Bearer \(token)")]).status == 401)
        #expect(try await HTTP.get(base + "/v1/verify", headers: [("Authorization", "Bearer garbage.\(tenantSecret).x")]).status == 401)
        let refreshed = try await HTTP.send(.POST, base + "/v1/login/refresh", key: nil, json: .object(["refresh_token": .string(refresh)]))
        #expect(refreshed.status == 200)
        if let second = refreshed.json["refresh_token"]?.stringValue { seen["second refresh token"] = second }
        #expect(try await HTTP.send(.POST, base + "/v1/logout", key: nil, json: .object(["refresh_token": .string(refreshed.json["refresh_token"]?.stringValue ?? refresh)])).status == 204)

        broker.signal(SIGTERM)
        _ = try await broker.waitForExit()
        let log = broker.log + broker.output
        #expect(log.contains(#""level":"debug""#), "the run logged at debug")
        #expect(log.contains(#""route":"/v1/tenants/{tenantId}/token""#), "access lines are there")
        for (name, value) in seen.sorted(by: { $0.key < $1.key }) {
            #expect(!log.contains(value), "the log holds the \(name)")
        }
    }

    @Test("a flood of refused tokens writes a summary line, not a line each, at info; each is counted in /metrics")
    func refusalFlood() async throws {
        let scratch = ScratchDirectory()
        let broker = try await BrokerProcess.serve(
            keysDir: scratch.path + "/keys", directory: scratch.path, extraArguments: ["--database", "sqlite:\(scratch.path)/store.sqlite"])
        defer { broker.signal(SIGKILL) }
        let base = "http://127.0.0.1:\(broker.port)"
        let before = broker.log.split(separator: "\n").count
        for index in 0..<300 {
            #expect(try await HTTP.get(base + "/v1/verify", headers: [("Authorization", "Bearer not.a.token\(index)")]).status == 401)
        }
        for _ in 0..<50 {
            #expect(try await HTTP.send(.GET, base + "/v1/api-keys", key: "tbk_nosuchkey_wrongsecret").status == 401)
        }
        let metrics = try await HTTP.get(base + "/metrics").text
        #expect(metrics.contains(#"token_broker_http_requests_total{route="/v1/verify",method="GET",code="401"} 300"#), "\(metrics.prefix(500))")
        let lines = broker.log.split(separator: "\n").dropFirst(before)
        #expect(lines.count <= 3, "350 refusals wrote \(lines.count) lines: \(lines.prefix(5))")
        #expect(lines.contains { $0.contains("requests refused") }, "the summary line says refusals happen")
    }
}
