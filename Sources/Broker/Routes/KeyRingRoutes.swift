import Foundation
import Hummingbird
import JOSE
import KeyRing
import TenantRegistry
import Tokens

/// `GET /v1/keys`: the signing key ring as the broker has it loaded (system admins): each key's kid, algorithm,
/// state and dates, never key material. The console's key view reads it; the JWKS stays the public view.
struct KeyRingRoutes: Sendable {
    let keyRing: KeyRing

    func addRoutes(to router: Router<BrokerRequestContext>) {
        router.get("/v1/keys") { _, context in try list(context) }
    }

    func list(_ context: BrokerRequestContext) throws -> Response {
        _ = try AccessPolicy.systemAdmin(context.caller)
        let snapshot = keyRing.current
        let keys: [JSONValue] = snapshot.entries.map { entry in
            .object([
                "kid": .string(entry.kid), "alg": .string(entry.alg.rawValue), "state": .string(entry.state.rawValue),
                "published": .bool(entry.state.isPublished), "createdAt": .string(RFC3339.format(entry.created)),
                "activatedAt": entry.activated.map { .string(RFC3339.format($0)) } ?? .null,
                "retiredAt": entry.retired.map { .string(RFC3339.format($0)) } ?? .null,
            ])
        }
        return JSONResponse.make(
            .object(["keys": .array(keys), "activeKid": .string(snapshot.active.kid), "loadedAt": .string(RFC3339.format(snapshot.loadedAt))]),
            headers: [.cacheControl: "no-store"])
    }
}
