import Foundation
import JOSE
import KeyRing
import TenantRegistry

/// Mints cx-tenant tokens for callers: looks the tenant up in memory, applies the caller's limits,
/// signs with the active key in memory. No database round trip.
package struct TokenIssuer: Sendable {
    let keyRing: KeyRing
    let tenants: TenantService
    let issuer: @Sendable () -> String
    /// Token lifetimes, reloadable on SIGHUP.
    let lifetimes: TokenLifetimes
    var defaultTTL: Int { lifetimes.defaultTTL }
    var maxTTL: Int { lifetimes.maxTTL }
    /// The operator's default mint limit for tenants without their own.
    let rateDefaults: TenantRateDefaults

    package init(
        keyRing: KeyRing, tenants: TenantService, issuer: @escaping @Sendable () -> String, lifetimes: TokenLifetimes,
        rateDefaults: TenantRateDefaults = TenantRateDefaults(mintPerSecond: 0, otpPerMinute: 0, loginPerMinute: 0)
    ) {
        self.keyRing = keyRing
        self.tenants = tenants
        self.issuer = issuer
        self.lifetimes = lifetimes
        self.rateDefaults = rateDefaults
    }

    /// The `RateLimit-Policy` name of the mint limit.
    package static let mintPolicy = "mint"

    /// Why minting was refused, before the endpoint maps it to its own error shape.
    package enum Refusal: Error {
        case unknownTenant
        /// The subtenant does not exist, or the caller may not act for it.
        case unknownSubtenant
        /// The caller may act only for some subtenants of the tenant, and named none.
        case subtenantRequired
        case inactiveTenant(TenantStatus)
        case invalid([FieldError])
        /// The tenant's mint limit is used up for now (nothing was signed).
        case rateLimited(RateDecision)
    }

    package struct Minted {
        package let token: String
        package let expiresIn: Int
        package let tenant: TenantView
        package let scope: String
        package let subtenantId: String?
        /// The tenant's mint limit after this mint; nil when no limit applies.
        package let rate: RateDecision?
    }

    /// Mints for `caller` and tenant `tenantId` (or the tenant whose domain is `domain`).
    package func mint(
        caller: CallerIdentity, tenantId: String?, domain: String? = nil, audience: String?, scope requestedScope: [String]?,
        roles requestedRoles: [String]?, ttl requestedTTL: Int?, subjectRoles: Bool = false, subtenant subtenantId: String? = nil
    ) throws(Refusal) -> Minted {
        let snapshot = tenants.directory.current
        let view = tenantId.flatMap { snapshot.tenant(id: $0) } ?? domain.flatMap { snapshot.tenant(domain: $0) }
        // A tenant the caller may not act for is indistinguishable from one that does not exist.
        guard let view, caller.canSee(view.tenantId) else { throw .unknownTenant }
        let status = view.status(at: tenants.clock())
        guard status == .active else { throw .inactiveTenant(status) }
        if let subtenantId {
            // Another subtenant than the caller's is as invisible as an unknown one.
            guard caller.mayActFor(view.tenantId, subtenant: subtenantId), let subtenant = tenants.subtenants.subtenant(view.tenantId, subtenantId) else {
                throw .unknownSubtenant
            }
            if subtenant.isDeleted { throw .inactiveTenant(.deleted) }
        } else if !caller.mayActFor(view.tenantId, subtenant: nil) {
            throw .subtenantRequired
        }
        var errors = [FieldError]()
        let ttl = requestedTTL ?? defaultTTL
        if !(1...maxTTL).contains(ttl) { errors.append(FieldError("ttl", "must be between 1 and \(maxTTL) seconds")) }
        if let audience, !Self.isAcceptableAudience(audience, tenantDomain: view.domain) {
            errors.append(FieldError("audience", "must be an https URI on the tenant's own domain (\(view.domain) or a subdomain)"))
        }
        if !errors.isEmpty { throw .invalid(errors) }
        // Last before signing: only a mint that would be signed counts, and a refusal costs no signature.
        var rate: RateDecision?
        let limit = view.limits.mintPerSecond ?? rateDefaults.mintPerSecond
        if limit > 0 {
            let decision = RateGate.take(view.mintGate.tat, limit: limit, window: 1, now: RateGate.now())
            guard decision.allowed else { throw .rateLimited(decision) }
            rate = decision
        }
        // Callers grant only what they hold: scopes are intersected with the caller's own (never `admin`);
        // roles can be granted only by system admins until role grants per key exist.
        let grantable = caller.scopes.subtracting(["admin"])
        let scope = requestedScope.map { $0.filter { caller.isSystemAdmin || grantable.contains($0) } } ?? grantable.sorted()
        // Token exchange carries the subject's own roles from its identity provider into the cx-tenant token.
        let roles = subjectRoles ? caller.roles : caller.isSystemAdmin ? (requestedRoles ?? []) : []
        let request = CXToken.Request(
            tenantId: view.tenantId, tenantDomain: view.domain, subject: subjectRoles ? (caller.subjectId ?? caller.name) : caller.name,
            clientId: subjectRoles ? "keycloak:\(view.realm):\(caller.clientId)" : caller.clientId, audience: audience,
            scope: scope.uniqued(), roles: roles.uniqued(), ttl: ttl, subtenantId: subtenantId)
        do {
            let minted = try CXToken.mint(request, issuer: issuer(), key: keyRing.current.active, now: tenants.clock())
            return Minted(
                token: minted.token, expiresIn: minted.expiresIn, tenant: view, scope: request.scope.joined(separator: " "), subtenantId: subtenantId,
                rate: rate)
        } catch {
            // Signing with a loaded key does not fail for input reasons; surface it as a server fault.
            preconditionFailure("signing with the active key failed: \(error)")
        }
    }

    /// An audience must stay inside the tenant: an https URI whose host is the tenant's domain or a subdomain of it,
    /// so no tenant can mint a token another tenant's services (or a JWKS-only gateway) would accept.
    package static func isAcceptableAudience(_ value: String, tenantDomain: String) -> Bool {
        guard (1...512).contains(value.utf8.count), value.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }),
            let url = URL(string: value), url.scheme == "https", let host = url.host?.lowercased(), url.user == nil
        else { return false }
        return host == tenantDomain || host.hasSuffix("." + tenantDomain)
    }
}
