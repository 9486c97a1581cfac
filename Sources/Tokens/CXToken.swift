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

    /// A minted token.
    public struct Minted: Sendable {
        public let token: String
        public let expiresIn: Int
    }

    /// Signs a token for `request` with `key`, issued by `issuer` at `now`.
    public static func mint(_ request: Request, issuer: String, key: JWSPrivateKey, now: Date = Date()) throws(JOSEError) -> Minted {
        let issuedAt = Int64(now.timeIntervalSince1970.rounded(.down))
        // Written in key order straight into the signing input: no dictionary of claims to build, hash and sort
        // (the same bytes as serialising that dictionary; CXTokenTests checks it).
        var claims = JSONObjectWriter(capacity: 1024)
        claims.member("aud", string: request.audience ?? "https://\(request.tenantDomain)")
        claims.member("client_id", string: request.clientId)
        claims.member("exp", int: issuedAt + Int64(request.ttl))
        claims.member("iat", int: issuedAt)
        claims.member("iss", string: issuer)
        claims.member("jti", string: Base64URL.encode(Crypto.randomBytes(16)))
        claims.member("nbf", int: issuedAt)
        claims.member("roles", strings: request.roles)
        claims.member("scope", string: request.scope.joined(separator: " "))
        claims.member("sub", string: request.subject)
        if let subtenant = request.subtenantId { claims.member("subtenant_id", string: subtenant) }
        claims.member("tenant_domain", string: request.tenantDomain)
        claims.member("tenant_id", string: request.tenantId)
        let token = try JWS.sign(claims: claims, key: key, type: type)
        return Minted(token: token, expiresIn: request.ttl)
    }
}
