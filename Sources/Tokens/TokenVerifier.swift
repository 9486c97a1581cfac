import Foundation
import JOSE
import KeyRing
import TenantRegistry

/// Verifies cx-tenant tokens for every endpoint that accepts them: signature with the key its kid names
/// (algorithm bound to the key), `typ`, `iss`, time claims with leeway, tenant claims against the
/// in-memory tenant view, and revocation. No database round trip.
package final class TokenVerifier: Sendable {
    package let keyRing: KeyRing
    let tenants: TenantService
    let revocations: RevocationList
    package let issuer: @Sendable () -> String
    package let leeway: Double
    package let cache = VerificationCache<VerifiedCXToken>()
    /// How long a token that failed a static check stays known as bad.
    package static let negativeTTL: Double = 30

    package init(keyRing: KeyRing, tenants: TenantService, revocations: RevocationList, issuer: @escaping @Sendable () -> String, leeway: Int) {
        self.keyRing = keyRing
        self.tenants = tenants
        self.revocations = revocations
        self.issuer = issuer
        self.leeway = Double(leeway)
    }

    /// Why a token was refused; `description` is safe for `error_description`.
    package enum Failure: Error, Equatable, CustomStringConvertible {
        case invalid(String)
        case tenantInactive
        /// The token's subtenant was deleted (or no longer exists).
        case subtenantInactive
        case revoked

        package var description: String {
            switch self {
            case .invalid(let why): return why
            case .tenantInactive: return "the token's tenant is not active"
            case .subtenantInactive: return "the token's subtenant is not active"
            case .revoked: return "the token has been revoked"
            }
        }
    }

    package func verify(_ token: String, audience: String? = nil) -> Result<VerifiedCXToken, Failure> {
        let now = tenants.clock().timeIntervalSince1970
        guard token.utf8.count <= JWS.defaultMaxTokenBytes else { return .failure(.invalid(JOSEError.tokenTooLarge.description)) }
        let key = TokenHash(token)
        let verified: VerifiedCXToken
        switch cache.lookup(key, now: now) {
        case .valid(let cached, _)?:
            verified = cached
        case .invalid(let why, _)?:
            return .failure(.invalid(why))
        case nil:
            switch verifyStatic(token, now: now) {
            case .success(let fresh):
                verified = fresh
                cache.store(.valid(fresh, expires: fresh.expiresAt + leeway), for: key)
            case .failure(let failure):
                if case .invalid(let why) = failure.reason, failure.isStatic {
                    cache.store(.invalid(why, until: now + Self.negativeTTL), for: key)
                }
                return .failure(failure.reason)
            }
        }
        return checkDynamic(verified, now: now, audience: audience)
    }

    /// `verify(token)`'s answer (default audience) when that answer is a success found in the verification cache;
    /// nil in every other case: not cached, cached as invalid, or refused by a dynamic check. It never checks a
    /// signature, so it is cheap enough for an event loop (the forward-auth fast path); the caller takes the
    /// full path on nil, which gives the same answer `verify` would.
    package func cachedSuccess(_ token: String) -> VerifiedCXToken? {
        guard token.utf8.count <= JWS.defaultMaxTokenBytes else { return nil }
        let now = tenants.clock().timeIntervalSince1970
        guard case .valid(let cached, _)? = cache.lookup(TokenHash(token), now: now),
            case .success(let verified) = checkDynamic(cached, now: now, audience: nil)
        else { return nil }
        return verified
    }

    /// What may change while a token lives: time, tenant status, revocation, and the caller's audience.
    package func checkDynamic(_ token: VerifiedCXToken, now: Double, audience: String?) -> Result<VerifiedCXToken, Failure> {
        // A retired (or replaced) key takes its tokens with it, cached or not.
        // Compared by value: a SIGHUP reload builds new key objects for unchanged keys.
        guard let current = keyRing.current.key(forKid: token.key.kid), current === token.key || current.jwk == token.key.jwk else {
            return .failure(.invalid(JOSEError.unknownKeyID.description))
        }
        if now >= token.expiresAt + leeway { return .failure(.invalid(JOSEError.expired.description)) }
        if let nbf = token.notBefore, now + leeway < nbf { return .failure(.invalid(JOSEError.notYetValid.description)) }
        // The tenant's index entry, borrowed: status and domain come from the index slot, not the view (one
        // cache miss on a large registry, not three), and no reference count is updated (every request for a
        // tenant would otherwise write its one view object's count, passed back and forth between threads).
        let tenantFailure: Failure? = tenants.directory.withTenantEntry(id: token.tenantId) { entry in
            guard let entry, entry.hasDomain(token.tenantDomain) else { return .invalid("the token's tenant is unknown") }
            guard entry.status(at: Date(timeIntervalSince1970: now)) == .active else { return .tenantInactive }
            // The default audience is the tenant's own origin: the token's `tenant_domain`, the tenant's (checked above).
            if audience == nil, !token.audiences.contains(where: { Self.isOrigin($0, of: token.tenantDomain) }) {
                return .invalid(JOSEError.invalidAudience.description)
            }
            return nil
        }
        if let tenantFailure { return .failure(tenantFailure) }
        // Only subtenant tokens look here (tenant tokens never do), and a cached one only when some subtenant changed.
        if let subtenantId = token.subtenantId, !tenants.subtenants.isActive(token.tenantId, subtenantId, confirmed: token.subtenantConfirmed) {
            return .failure(.subtenantInactive)
        }
        if let audience, !token.audiences.contains(audience) { return .failure(.invalid(JOSEError.invalidAudience.description)) }
        if revocations.isRevoked(token.jti) { return .failure(.revoked) }
        return .success(token)
    }

    /// Whether `audience` is exactly `https://<domain>` (without building that string per request).
    package static func isOrigin(_ audience: String, of domain: String) -> Bool {
        let scheme = "https://".utf8
        let audience = audience.utf8
        return audience.count == scheme.count + domain.utf8.count && audience.starts(with: scheme)
            && audience.dropFirst(scheme.count).elementsEqual(domain.utf8)
    }

    private func verifyStatic(_ token: String, now: Double) -> Result<VerifiedCXToken, StaticFailure> {
        let snapshot = keyRing.current
        let jwt: VerifiedJWT
        do {
            jwt = try JWS.verify(token) { snapshot.key(forKid: $0) }
        } catch {
            // An unknown kid may become known after a key ring reload: not cached.
            return .failure(StaticFailure(reason: .invalid(error.description), isStatic: error != .unknownKeyID))
        }
        do {
            // Time is checked per request; here only the static rules (typ, iss, claim types).
            try ClaimsValidator(issuers: [issuer()], audiences: nil, types: [CXToken.type], leeway: leeway).validate(jwt, now: now)
        } catch {
            // Not yet valid, or issued in the future: that may change with time, so it is checked again. Expired
            // is final (time only moves on), so it is remembered like a bad signature: a client replaying an
            // expired token does not cost a signature check per request.
            let timeBound = error == .notYetValid || error == .issuedInFuture
            return .failure(StaticFailure(reason: .invalid(error.description), isStatic: !timeBound))
        }
        let claims = jwt.claims
        func string(_ name: String) -> String? { claims[name]?.stringValue }
        guard let tenantId = string("tenant_id"), let domain = string("tenant_domain"), let jti = string("jti"), !jti.isEmpty,
            let subject = string("sub"), let expires = claims["exp"]?.numberValue
        else { return .failure(StaticFailure(reason: .invalid("a cx-tenant claim is missing or not a string"), isStatic: true)) }
        let audiences: [String]
        switch claims["aud"] {
        case .string(let single)?: audiences = [single]
        case .array(let many)?: audiences = many.compactMap(\.stringValue)
        default: return .failure(StaticFailure(reason: .invalid(JOSEError.invalidAudience.description), isStatic: true))
        }
        var roles = [String]()
        switch claims["roles"] {
        case nil: break
        case .array(let items)?: roles = items.compactMap(\.stringValue)
        default: return .failure(StaticFailure(reason: .invalid("claim 'roles' has an invalid value"), isStatic: true))
        }
        var subtenantId: String?
        switch claims["subtenant_id"] {
        case nil: break
        case .string(let id)? where TenantRules.isValidTenantId(id): subtenantId = id
        default: return .failure(StaticFailure(reason: .invalid("claim 'subtenant_id' has an invalid value"), isStatic: true))
        }
        if let scope = claims["scope"], scope.stringValue == nil {
            return .failure(StaticFailure(reason: .invalid("claim 'scope' has an invalid value"), isStatic: true))
        }
        return .success(
            VerifiedCXToken(
                subject: subject, tenantId: tenantId, tenantDomain: domain, subtenantId: subtenantId, audiences: audiences, roles: roles, scope: string("scope") ?? "",
                clientId: string("client_id") ?? "", jti: jti, issuedAt: Int64(exactly: (claims["iat"]?.numberValue ?? 0).rounded(.down)) ?? 0,
                notBefore: claims["nbf"]?.numberValue, expiresAt: expires, claims: claims, key: jwt.key))
    }

    /// A refusal of the static checks, and whether it is final (cached as invalid) or may change with time or a reload.
    private struct StaticFailure: Error {
        let reason: Failure
        let isStatic: Bool
    }
}
