import Foundation
import JOSE

/// Builds and signs cx-tenant tokens with exactly the header and claims the contract fixes:
/// header `{"alg","typ":"at+jwt","kid"}`; claims iss, sub, aud, exp, iat, nbf, jti, client_id,
/// tenant_id, tenant_domain, scope, roles, and subtenant_id when issued for a subtenant.
public struct CXToken: Sendable {
    /// What a caller asks for. Validation of who may ask for what happens before this.
    public struct Request: Sendable {
        public var tenantId: String
        public var tenantDomain: String
        public var subject: String
        public var clientId: String
        public var audience: String?
        public var scope: [String]
        public var roles: [String]
        public var ttl: Int
        public var subtenantId: String?

        public init(
            tenantId: String, tenantDomain: String, subject: String, clientId: String, audience: String? = nil, scope: [String] = [],
            roles: [String] = [], ttl: Int, subtenantId: String? = nil
        ) {
            self.tenantId = tenantId
            self.tenantDomain = tenantDomain
            self.subject = subject
            self.clientId = clientId
            self.audience = audience
            self.scope = scope
            self.roles = roles
            self.ttl = ttl
            self.subtenantId = subtenantId
        }
    }

    /// The JOSE `typ` of cx-tenant tokens (RFC 9068).
    public static let type = "at+jwt"

    /// A minted token and the claims inside it.
    public struct Minted: Sendable {
        public let token: String
        public let claims: [String: JSONValue]
        public let expiresIn: Int
    }

    /// Signs a token for `request` with `key`, issued by `issuer` at `now`.
    public static func mint(_ request: Request, issuer: String, key: JWSPrivateKey, now: Date = Date()) throws(JOSEError) -> Minted {
        let issuedAt = Int64(now.timeIntervalSince1970.rounded(.down))
        // Sized for every claim up front: a subtenant's 13th claim would otherwise rehash the 12 before it (bench-http).
        var claims = [String: JSONValue](minimumCapacity: request.subtenantId == nil ? 12 : 13)
        claims["iss"] = .string(issuer)
        claims["sub"] = .string(request.subject)
        claims["aud"] = .string(request.audience ?? "https://\(request.tenantDomain)")
        claims["iat"] = .int(issuedAt)
        claims["nbf"] = .int(issuedAt)
        claims["exp"] = .int(issuedAt + Int64(request.ttl))
        claims["jti"] = .string(Base64URL.encode(Crypto.randomBytes(16)))
        claims["client_id"] = .string(request.clientId)
        claims["tenant_id"] = .string(request.tenantId)
        claims["tenant_domain"] = .string(request.tenantDomain)
        claims["scope"] = .string(request.scope.joined(separator: " "))
        claims["roles"] = .array(request.roles.map(JSONValue.string))
        if let subtenant = request.subtenantId { claims["subtenant_id"] = .string(subtenant) }
        let token = try JWS.sign(claims: claims, key: key, type: type)
        return Minted(token: token, claims: claims, expiresIn: request.ttl)
    }
}
