import Foundation
import JOSE
import Keycloak
import Logging
import TenantRegistry

/// Turns a Keycloak access token into a caller: a master-realm token with the admin role is a system
/// admin, one with `cx-token-minter` may mint for any tenant; a tenant realm's token with `tenant-admin`
/// administers that tenant only. Any other valid token is a caller with no rights (403, not 401).
package struct KeycloakCallerVerifier: Sendable {
    let discovery: OIDCDiscovery
    let jwks: JWKSCache
    let tenants: TenantService
    let masterIssuer: String
    let keycloakURL: String
    let adminRole: String
    let rolesClaim: String
    let leeway: Double
    /// When non-empty, a master-realm token's `aud` must contain one of these.
    let audiences: [String]
    /// When non-empty, a master-realm token's `azp` must be one of these.
    let authorizedParties: [String]
    let oidc: OIDCClient
    /// The broker's own client at the master realm (its secret enables introspection).
    let masterClient: OIDCClientCredentials
    /// Introspection answers for tokens without roles: the claims until the token's `exp`, "inactive" for a minute.
    let introspections: VerificationCache<[String: JSONValue]>
    /// Records each introspection call to the provider: its outcome (`success`, `error`) and duration.
    let recordIntrospection: @Sendable (_ outcome: String, _ duration: Duration) -> Void

    package init(
        discovery: OIDCDiscovery, jwks: JWKSCache, tenants: TenantService, masterIssuer: String, keycloakURL: String, adminRole: String,
        rolesClaim: String, leeway: Double, audiences: [String], authorizedParties: [String], oidc: OIDCClient, masterClient: OIDCClientCredentials,
        introspections: VerificationCache<[String: JSONValue]>, recordIntrospection: @escaping @Sendable (_ outcome: String, _ duration: Duration) -> Void
    ) {
        self.discovery = discovery
        self.jwks = jwks
        self.tenants = tenants
        self.masterIssuer = masterIssuer
        self.keycloakURL = keycloakURL
        self.adminRole = adminRole
        self.rolesClaim = rolesClaim
        self.leeway = leeway
        self.audiences = audiences
        self.authorizedParties = authorizedParties
        self.oidc = oidc
        self.masterClient = masterClient
        self.introspections = introspections
        self.recordIntrospection = recordIntrospection
    }

    package static let minterRole = "cx-token-minter"
    package static let tenantAdminRole = "tenant-admin"
    /// What a component's service account with `cx-token-minter` may do (the contract's "component" row).
    package static let componentScopes: Set<String> = ["token:mint", "token:introspect", "otp"]

    /// A Keycloak access token that verified: its claims, roles and (for tenant realms) tenant.
    package struct Verified: Sendable {
        package let claims: JWTClaims
        package let roles: Set<String>
        package let tenant: TenantView?
    }

    package func identify(_ token: String) async -> CallerIdentity? {
        guard let verified = await verify(token) else { return nil }
        let roles = verified.roles
        let claims = verified.claims
        let subject = claims["sub"]?.stringValue ?? claims["preferred_username"]?.stringValue ?? "unknown"
        let name = claims["preferred_username"]?.stringValue ?? subject
        if let tenant = verified.tenant {
            var caller = CallerIdentity(
                subject: "keycloak:\(tenant.realm):\(subject)", name: name, clientId: claims["azp"]?.stringValue ?? "",
                isSystemAdmin: false, scopes: CallerIdentity.tenantScopes(roles: roles), tenants: [tenant.tenantId],
                roles: roles.sorted(), subjectId: subject)
            caller.isTenantToken = true
            return caller
        }
        return CallerIdentity(
            subject: "keycloak:master:\(subject)", name: name, clientId: claims["azp"]?.stringValue ?? "",
            isSystemAdmin: roles.contains(adminRole), scopes: roles.contains(Self.minterRole) ? Self.componentScopes : [], tenants: nil,
            roles: roles.sorted(), subjectId: subject)
    }

    /// Verifies a Keycloak access token of the master realm or of a known tenant's realm.
    package func verify(_ token: String) async -> Verified? {
        guard token.utf8.count <= JWS.defaultMaxTokenBytes else { return nil }
        let issuer: String
        let tenant: TenantView?
        let verified: VerifiedJWT
        // Fast path: the kid is known in exactly one cached key set, so header and claims are parsed once, in
        // the verification itself. The key must still belong to the token's issuer (its discovery names that set).
        var keySet: String?
        let fast = Result { () throws(JOSEError) -> VerifiedJWT in
            try JWS.verify(token) { kid in
                let found = jwks.cachedKey(kid: kid)
                keySet = found?.jwksURL
                return found?.key
            }
        }
        if let jwksURL = keySet {
            guard case .success(let checked) = fast, let claimed = checked.claims["iss"]?.stringValue,
                case .success(let found) = trustedIssuer(claimed), let metadata = await discovery.metadata(for: claimed), metadata.jwksURI == jwksURL
            else { return nil }
            (issuer, tenant, verified) = (claimed, found, checked)
        } else {
            guard let header = try? JWS.unverifiedHeader(token), let kid = header["kid"]?.stringValue else { return nil }
            // The unverified issuer only chooses which key set to try; it is checked again after the signature.
            guard let claimed = (try? JWS.unverifiedJWTClaims(token))?["iss"]?.stringValue, case .success(let found) = trustedIssuer(claimed),
                let metadata = await discovery.metadata(for: claimed),
                case .success(let key) = await jwks.key(jwksURL: metadata.jwksURI, kid: kid),
                let checked = try? JWS.verify(token, key: { $0 == kid ? key : nil })
            else { return nil }
            (issuer, tenant, verified) = (claimed, found, checked)
        }
        do {
            try ClaimsValidator(issuers: [issuer], leeway: leeway).validate(verified, now: tenants.clock().timeIntervalSince1970)
        } catch {
            return nil
        }
        // Keycloak marks access tokens typ "Bearer"; ID and refresh tokens are not credentials here.
        if let typ = verified.claims["typ"], typ != .string("Bearer") { return nil }
        if let tenant, tenant.storedStatus.isGone { return nil }
        if tenant == nil, !boundToBroker(verified.claims) { return nil }
        var roles = verified.claims.value(atPath: rolesClaim)
        if roles == nil {
            // A lightweight token (Keycloak 26 admin-cli style) carries no roles: ask the provider once, keep the answer until exp.
            switch await introspectedClaims(token, issuer: issuer, tenant: tenant, expiresAt: verified.claims["exp"]?.numberValue ?? 0) {
            case .inactive: return nil
            case .claims(let claims): roles = JSONValue.object(claims).value(atPath: rolesClaim)
            case .unknown: break
            }
        }
        return Verified(claims: verified.claims, roles: Self.roles(roles), tenant: tenant)
    }

    struct UntrustedIssuer: Error {}

    /// The master realm (`.success(nil)`), a known tenant's realm (`.success(tenant)`), or an issuer the broker does not trust.
    func trustedIssuer(_ issuer: String) -> Result<TenantView?, UntrustedIssuer> {
        if issuer == masterIssuer { return .success(nil) }
        let snapshot = tenants.directory.current
        if let explicit = snapshot.byIssuer[issuer] { return .success(explicit) }
        if issuer.hasPrefix(keycloakURL + "/realms/"), let tenant = snapshot.byRealm[String(issuer.dropFirst(keycloakURL.count + "/realms/".count))] {
            return .success(tenant)
        }
        return .failure(UntrustedIssuer())
    }

    /// `aud` / `azp` of a master-realm token against the configured allow-lists (not checked when none is configured).
    func boundToBroker(_ claims: JWTClaims) -> Bool {
        if !authorizedParties.isEmpty {
            guard let azp = claims["azp"]?.stringValue, authorizedParties.contains(azp) else { return false }
        }
        if !audiences.isEmpty {
            let aud: [String]
            switch claims["aud"] {
            case .string(let one)?: aud = [one]
            case .array(let many)?: aud = many.compactMap(\.stringValue)
            default: aud = []
            }
            guard aud.contains(where: audiences.contains) else { return false }
        }
        return true
    }

    enum Introspection { case claims([String: JSONValue]), inactive, unknown }

    /// The provider's view of a token, with the client credentials of its realm (the broker's client for the
    /// master realm, the tenant's client for a tenant realm). `unknown` when no confidential client is
    /// configured or the provider cannot answer: the token then has no roles.
    func introspectedClaims(_ token: String, issuer: String, tenant: TenantView?, expiresAt: Double) async -> Introspection {
        let key = TokenHash(token)
        let now = tenants.clock().timeIntervalSince1970
        switch introspections.lookup(key, now: now) {
        case .valid(let claims, _)?: return .claims(claims)
        case .invalid?: return .inactive
        case nil: break
        }
        let client: OIDCClientCredentials
        if let tenant {
            guard let stored = try? await tenants.tenant(tenant.tenantId), stored.keycloak.clientSecret != nil else { return .unknown }
            client = stored.realmClient(keycloakURL: keycloakURL).client
        } else {
            guard masterClient.clientSecret != nil else { return .unknown }
            client = masterClient
        }
        let start = ContinuousClock.now
        do {
            let answer = try await oidc.introspect(issuer: issuer, client: client, token: token)
            recordIntrospection("success", ContinuousClock.now - start)
            if let answer {
                let until = min(expiresAt, answer["exp"]?.numberValue ?? expiresAt)
                if until > now { introspections.store(.valid(answer, expires: until), for: key) }
            } else {
                introspections.store(.invalid("inactive at the provider", until: now + 60), for: key)
            }
            return answer.map { .claims($0) } ?? .inactive
        } catch {
            recordIntrospection("error", ContinuousClock.now - start)
            oidc.logger.warning("introspection of a token without roles failed", metadata: ["issuer": .string(issuer), "reason": .string(error.logDescription)])
            return .unknown
        }
    }

    /// Roles from the value at the roles claim path: an array of strings or one space-separated string.
    static func roles(_ value: JSONValue?) -> Set<String> {
        switch value {
        case .array(let items)?: return Set(items.compactMap(\.stringValue))
        case .string(let text)?: return Set(text.split(separator: " ").map(String.init))
        default: return []
        }
    }
}
