import Foundation
import HTTPTypes
import Hummingbird
import JOSE
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// A stand-in for Keycloak on loopback: discovery and the JWKS of several realms, in Keycloak's exact
/// shapes (an RSA-OAEP `enc` key beside the RS256 signing keys, `x5c`, Keycloak's header spacing),
/// with switches to rotate keys and to fail.
public final class KeycloakDouble: Sendable {
    public enum Mode: Sendable { case normal, failing }

    struct RealmKeys: Sendable {
        var signing: [(kid: String, key: JWSPrivateKey)]
        let encryption: JWSPrivateKey
    }

    private let realms: Mutex<[String: RealmKeys]>
    private let mode = Mutex<Mode>(.normal)
    private let certsRequests = Atomic<Int>(0)
    private let portBox = Atomic<Int>(0)
    private let task = Mutex<Task<Void, any Error>?>(nil)

    public init(realms names: [String]) throws {
        var realms = [String: RealmKeys]()
        for name in names {
            realms[name] = RealmKeys(signing: [("kc-\(name)-1", try JWSPrivateKey.generate(.rs256))], encryption: try JWSPrivateKey.generate(.rs256))
        }
        self.realms = Mutex(realms)
    }

    public var port: Int { portBox.load(ordering: .relaxed) }
    public var base: String { "http://127.0.0.1:\(port)" }
    public func issuer(_ realm: String) -> String { "\(base)/realms/\(realm)" }
    public func jwksURL(_ realm: String) -> String { "\(issuer(realm))/protocol/openid-connect/certs" }
    public var certsRequestCount: Int { certsRequests.load(ordering: .relaxed) }
    public func set(_ newMode: Mode) { mode.withLock { $0 = newMode } }

    /// Adds a new signing key that signs from now on; with `dropOld`, the old ones leave the JWKS (disabled in Keycloak).
    public func rotate(_ realm: String, dropOld: Bool) throws -> String {
        let key = try JWSPrivateKey.generate(.rs256)
        return realms.withLock { realms in
            let kid = "kc-\(realm)-\(realms[realm]!.signing.count + 1)"
            if dropOld { realms[realm]!.signing.removeAll() }
            realms[realm]!.signing.insert((kid, key), at: 0)
            return kid
        }
    }

    /// A token signed like Keycloak signs it (header byte-exact, with the spaces around the colons).
    public func token(_ realm: String, claims: [String: JSONValue]) throws -> String {
        let (kid, key) = realms.withLock { $0[realm]!.signing[0] }
        let header = "{\"alg\":\"RS256\",\"typ\" : \"JWT\",\"kid\" : \"\(kid)\"}"
        let input = Base64URL.encode(Array(header.utf8)) + "." + Base64URL.encode(JSONValue.object(claims).serialized())
        return input + "." + Base64URL.encode(try key.sign(Array(input.utf8)))
    }

    func jwks(_ realm: String) -> JSONValue? {
        realms.withLock { realms -> JSONValue? in
            guard let keys = realms[realm] else { return nil }
            var entries = [JSONValue]()
            var enc = keys.encryption.publicKey.jwk
            enc.kid = "kc-\(realm)-enc"
            enc.alg = "RSA-OAEP"
            enc.use = "enc"
            entries.append(Self.withCertificateFields(enc))
            for (kid, key) in keys.signing {
                var jwk = key.publicKey.jwk
                jwk.kid = kid
                entries.append(Self.withCertificateFields(jwk))
            }
            return .object(["keys": .array(entries)])
        }
    }

    static func withCertificateFields(_ jwk: JWK) -> JSONValue {
        var members = jwk.json.objectValue!
        members["x5c"] = .array([.string("MIICmzCCAYMCBgGT")])
        members["x5t"] = .string("aB3c")
        members["x5t#S256"] = .string("Zx9y")
        return .object(members)
    }

    public func start() async throws {
        let router = Router()
        router.get("/realms/:realm/.well-known/openid-configuration") { [self] _, context -> Response in
            let realm = context.parameters.get("realm") ?? ""
            guard jwks(realm) != nil else { return Self.json(.object(["error": .string("Realm does not exist")]), status: .notFound) }
            let issuer = issuer(realm)
            return Self.json(.object([
                "issuer": .string(issuer), "jwks_uri": .string("\(issuer)/protocol/openid-connect/certs"),
                "token_endpoint": .string("\(issuer)/protocol/openid-connect/token"),
                "introspection_endpoint": .string("\(issuer)/protocol/openid-connect/token/introspect"),
                "end_session_endpoint": .string("\(issuer)/protocol/openid-connect/logout"),
            ]))
        }
        router.get("/realms/:realm/protocol/openid-connect/certs") { [self] _, context -> Response in
            certsRequests.add(1, ordering: .relaxed)
            if mode.withLock({ $0 }) == .failing { return Self.json(.object(["error": .string("unknown_error")]), status: .internalServerError) }
            guard let document = jwks(context.parameters.get("realm") ?? "") else {
                return Self.json(.object(["error": .string("Realm does not exist")]), status: .notFound)
            }
            return Self.json(document, headers: [.cacheControl: "no-cache"])
        }
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { [self] channel in portBox.store(channel.localAddress?.port ?? 0, ordering: .relaxed) },
            logger: Logger(label: "keycloak-double"))
        let running = Task { try await app.runService(gracefulShutdownSignals: []) }
        task.withLock { $0 = running }
        let deadline = ContinuousClock.now + .seconds(10)
        while port == 0, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
    }

    public func stop() { task.withLock { $0?.cancel() } }

    static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = "application/json"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: value.serialized())))
    }
}
