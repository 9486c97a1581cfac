import JOSE
import Synchronization

/// A cx-tenant token that passed every check. A class: the verification cache hands it out on every cached
/// request, and a copy of a struct of a dozen strings and arrays would retain each of them.
package final class VerifiedCXToken: Sendable {
    package let subject: String
    package let tenantId: String
    package let tenantDomain: String
    /// The subtenant the token was minted for (`subtenant_id`), if any.
    package let subtenantId: String?
    package let audiences: [String]
    package let roles: [String]
    package let scope: String
    package let clientId: String
    package let jti: String
    package let issuedAt: Int64
    package let notBefore: Double?
    package let expiresAt: Double
    package let claims: JWTClaims
    /// The subtenant directory's generation at which this token's subtenant was last found active
    /// (`SubtenantDirectory.isActive`); 0: not yet.
    package let subtenantConfirmed = Atomic<UInt64>(0)
    /// The key that verified the signature; it must still be published for a cached result to count.
    package let key: JWSPublicKey

    package init(
        subject: String, tenantId: String, tenantDomain: String, subtenantId: String? = nil, audiences: [String], roles: [String], scope: String, clientId: String,
        jti: String, issuedAt: Int64, notBefore: Double?, expiresAt: Double, claims: JWTClaims, key: JWSPublicKey
    ) {
        self.subject = subject
        self.tenantId = tenantId
        self.tenantDomain = tenantDomain
        self.subtenantId = subtenantId
        self.audiences = audiences
        self.roles = roles
        self.scope = scope
        self.clientId = clientId
        self.jti = jti
        self.issuedAt = issuedAt
        self.notBefore = notBefore
        self.expiresAt = expiresAt
        self.claims = claims
        self.key = key
    }
}
