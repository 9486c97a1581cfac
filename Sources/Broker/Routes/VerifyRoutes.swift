import Foundation
import HTTPTypes
import Hummingbird
import JOSE
import TenantRegistry
import Tokens

/// Verification for gateways and services: forward-auth (`GET /v1/verify`), RFC 7662 introspection
/// and RFC 7009 revocation.
struct VerifyRoutes: Sendable {
    let verifier: TokenVerifier
    let service: TenantService
    let authentication: CallerAuthentication
    let metrics: BrokerMetrics
    var keycloak: KeycloakCallerVerifier { authentication.keycloak }
    /// `--require-tenant-hint`: a request that names no tenant is refused (403).
    var requireTenantHint = false

    func addRoutes(to router: Router<BrokerRequestContext>) {
        router.get(RouterPath(RoutePaths.verify)) { request, context in await verify(request, context) }
        router.post("/oauth2/introspect") { request, context in try await introspect(request, context) }
        router.post("/oauth2/revoke") { request, context in try await revoke(request, context) }
    }

    static let authHeaders = (
        subject: HTTPField.Name("X-Auth-Subject")!, tenant: HTTPField.Name("X-Auth-Tenant")!, subtenant: HTTPField.Name("X-Auth-Subtenant")!,
        roles: HTTPField.Name("X-Auth-Roles")!, scope: HTTPField.Name("X-Auth-Scope")!
    )

    /// Forward-auth: 200 with identity headers, 401 for a bad token, 403 for a token of another tenant.
    func verify(_ request: Request, _ context: BrokerRequestContext) async -> Response {
        let authorization = request.headers.value(of: .authorization)
        if let header = authorization, header.utf8.count > 8192, header.utf8.prefix(7).map({ $0 | 0x20 }) == Array("bearer ".utf8) {
            metrics.recordVerification("invalid")
            return ForwardAuthRefusal.invalidToken(JOSEError.tokenTooLarge.description).response
        }
        guard let header = authorization, let token = CallerAuthentication.bearer(header), !token.isEmpty else {
            metrics.recordVerification("missing")
            return ForwardAuthRefusal.missingToken.response
        }
        let audience = request.uri.queryParameters["audience"].map(String.init)
        switch verifier.verify(token, audience: audience) {
        case .failure(let failure):
            // Not one of ours (another issuer): it may be a Keycloak access token.
            if case .invalid = failure, audience == nil, !Self.isOurs(token, issuer: verifier.issuer()),
                let keycloakToken = await keycloak.verify(token)
            {
                if let tenantId = keycloakToken.tenant?.tenantId { context.tenantReport?.report(tenantId) }
                return keycloakResponse(keycloakToken, request)
            }
            metrics.recordVerification(failure == .revoked ? "revoked" : failure == .tenantInactive || failure == .subtenantInactive ? "tenant_inactive" : "invalid")
            return ForwardAuthRefusal.invalidToken(failure.description).response
        case .success(let verified):
            context.tenantReport?.report(verified.tenantId)
            return identityResponse(
                request, tenantId: verified.tenantId, tenantDomain: verified.tenantDomain, subtenantId: verified.subtenantId, subject: verified.subject,
                roles: verified.roles, scope: verified.scope, result: "valid")
        }
    }

    /// The forward-auth answer for a verified token: 403 when a tenant hint names another tenant, else 200 with
    /// the identity headers. Every hint present must name the token's tenant: a client that can append a query
    /// (Envoy ext_authz forwards it) cannot override the host with ?tenant=.
    func identityResponse(
        _ request: Request, tenantId: String?, tenantDomain: String?, subtenantId: String? = nil, subject: String?, roles: [String], scope: String?,
        result: String
    ) -> Response {
        let tenantQuery = request.uri.queryParameters["tenant"].map(String.init)
        if requireTenantHint, !Self.hasTenantHint(tenantQuery: tenantQuery, headers: request.headers) {
            metrics.recordVerification("no_tenant_hint")
            return ForwardAuthRefusal.noTenantHint.response
        }
        guard Self.tenantHintsMatch(tenantQuery: tenantQuery, headers: request.headers, tenantId: tenantId, tenantDomain: tenantDomain) else {
            metrics.recordVerification("wrong_tenant")
            return ForwardAuthRefusal.wrongTenant.response
        }
        guard Self.subtenantHintsMatch(subtenantQuery: request.uri.queryParameters["subtenant"].map(String.init), headers: request.headers, subtenantId: subtenantId)
        else {
            metrics.recordVerification("wrong_subtenant")
            return ForwardAuthRefusal.wrongSubtenant.response
        }
        metrics.recordVerification(result)
        return Response(
            status: .ok, headers: Self.identityHeaders(tenantId: tenantId, subtenantId: subtenantId, subject: subject, roles: roles, scope: scope))
    }

    /// Whether the request names a tenant at all (`--require-tenant-hint`).
    static func hasTenantHint(tenantQuery: String?, headers: HTTPFields) -> Bool {
        tenantQuery != nil || headers.value(of: forwardedHost).flatMap(forwardedHostName) != nil
    }

    /// Whether every tenant hint the request carries (`?tenant=`, the host in `X-Forwarded-Host`) names the token's
    /// tenant, by id or by domain. True when there is no hint.
    static func tenantHintsMatch(tenantQuery: String?, headers: HTTPFields, tenantId: String?, tenantDomain: String?) -> Bool {
        if let tenantQuery, tenantQuery != tenantId, tenantQuery != tenantDomain { return false }
        if let value = headers.value(of: forwardedHost), let host = forwardedHostName(value), host != tenantId, host != tenantDomain {
            return false
        }
        return true
    }

    static let subtenantHint = HTTPField.Name("X-Subtenant")!

    /// Whether every subtenant hint (`?subtenant=`, `X-Subtenant`) names the token's subtenant; a hint beside a token
    /// without one names another. True when there is no hint.
    static func subtenantHintsMatch(subtenantQuery: String?, headers: HTTPFields, subtenantId: String?) -> Bool {
        if let subtenantQuery, subtenantQuery != subtenantId { return false }
        if let header = headers.value(of: subtenantHint), header != subtenantId { return false }
        return true
    }

    /// The 200 answer's headers: `Cache-Control: no-store` and the four identity headers, claim text only when
    /// `headerSafe` (a role that is not is left out; another value becomes empty).
    static func identityHeaders(tenantId: String?, subtenantId: String? = nil, subject: String?, roles: [String], scope: String?) -> HTTPFields {
        // Appended, not assigned: each name occurs once here, and assignment would search the fields first.
        var rolesValue = ""
        for role in roles {
            guard let safe = headerSafe(role) else { continue }
            if !rolesValue.isEmpty { rolesValue += "," }
            rolesValue += safe
        }
        var headers = HTTPFields()
        headers.reserveCapacity(8)
        headers.append(HTTPField(name: .cacheControl, value: "no-store"))
        headers.append(HTTPField(name: authHeaders.subject, value: subject.flatMap(headerSafe) ?? ""))
        headers.append(HTTPField(name: authHeaders.tenant, value: tenantId ?? ""))
        if let subtenantId { headers.append(HTTPField(name: authHeaders.subtenant, value: subtenantId)) }
        headers.append(HTTPField(name: authHeaders.roles, value: rolesValue))
        headers.append(HTTPField(name: authHeaders.scope, value: scope.flatMap(headerSafe) ?? ""))
        return headers
    }

    /// Whether the token claims to be issued by this broker (then only the broker's own rules apply).
    static func isOurs(_ token: String, issuer: String) -> Bool {
        (try? JWS.unverifiedJWTClaims(token))?["iss"]?.stringValue == issuer
    }

    /// Forward-auth answer for a Keycloak access token: a tenant realm's token is for that (active) tenant;
    /// a master-realm token belongs to no tenant, so any tenant hint makes it 403.
    func keycloakResponse(_ token: KeycloakCallerVerifier.Verified, _ request: Request) -> Response {
        if let tenant = token.tenant, tenant.status(at: service.clock()) != .active {
            metrics.recordVerification("tenant_inactive")
            return ForwardAuthRefusal.invalidToken(TokenVerifier.Failure.tenantInactive.description).response
        }
        return identityResponse(
            request, tenantId: token.tenant?.tenantId, tenantDomain: token.tenant?.domain, subject: token.claims["sub"]?.stringValue,
            roles: token.roles.sorted(), scope: token.claims["scope"]?.stringValue, result: "valid_keycloak")
    }

    static let forwardedHost = HTTPField.Name("X-Forwarded-Host")!

    /// The host an `X-Forwarded-Host` value names: its first non-empty comma-separated element, spaces and tabs
    /// trimmed, the port dropped (not inside an IPv6 literal), ASCII letters lowercased. Bytes are handled as
    /// bytes: a non-ASCII character stays as it is, so it can never turn into (and match) a tenant's DNS name,
    /// as Unicode case mapping could (U+212A KELVIN SIGN lowercases to "k"). nil when every element is empty.
    static func forwardedHostName(_ value: String) -> String? {
        var value = value
        return value.withUTF8 { bytes -> String? in
            var start = 0
            while start < bytes.count, bytes[start] == UInt8(ascii: ",") { start += 1 }
            guard start < bytes.count else { return nil }
            var end = start
            while end < bytes.count, bytes[end] != UInt8(ascii: ",") { end += 1 }
            func isBlank(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 }
            while start < end, isBlank(bytes[start]) { start += 1 }
            while end > start, isBlank(bytes[end - 1]) { end -= 1 }
            if end > start, bytes[end - 1] != UInt8(ascii: "]") {
                var colon = end - 1
                while colon >= start, bytes[colon] != UInt8(ascii: ":") { colon -= 1 }
                if colon >= start { end = colon }
            }
            let host = UnsafeBufferPointer(rebasing: bytes[start..<end])
            return String(unsafeUninitializedCapacity: host.count) { out in
                for (index, byte) in host.enumerated() {
                    out[index] = (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte | 0x20 : byte
                }
                return host.count
            }
        }
    }

    /// Claim text copied into a response header only when it is plain visible ASCII.
    static func headerSafe(_ value: String) -> String? {
        value.utf8.count <= 1024 && value.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F && $0 != 0x2C }) ? value : nil
    }

    /// RFC 7662: callers need `token:introspect` (or admin); tokens of tenants they may not see are inactive to them.
    func introspect(_ request: Request, _ context: BrokerRequestContext) async throws -> Response {
        let form = try await FormBody.parse(request)
        let caller = try await authentication.client(request, form: form)
        guard AccessPolicy.mayIntrospect(caller) else { throw OAuthFailure.insufficientScope("this client may not introspect tokens") }
        guard let token = form["token"], !token.isEmpty else { throw OAuthFailure.invalidRequest("token is required") }
        let inactive = JSONResponse.make(.object(["active": .bool(false)]), headers: [.cacheControl: "no-store"])
        guard case .success(let verified) = verifier.verify(token, audience: nil), AccessPolicy.maySeeToken(caller, tenantId: verified.tenantId, subtenantId: verified.subtenantId)
        else {
            if !Self.isOurs(token, issuer: verifier.issuer()), let keycloakToken = await keycloak.verify(token),
                keycloakToken.tenant.map({ AccessPolicy.maySeeToken(caller, tenantId: $0.tenantId, subtenantId: nil) && $0.status(at: service.clock()) == .active }) ?? caller.isSystemAdmin
            {
                metrics.recordVerification("introspect_active")
                var body = keycloakToken.claims.dictionary
                body["active"] = .bool(true)
                body["token_type"] = .string("Bearer")
                if let tenant = keycloakToken.tenant {
                    body["tenant_id"] = .string(tenant.tenantId)
                    body["tenant_domain"] = .string(tenant.domain)
                }
                body["roles"] = .array(keycloakToken.roles.sorted().map(JSONValue.string))
                return JSONResponse.make(.object(body), headers: [.cacheControl: "no-store"])
            }
            metrics.recordVerification("introspect_inactive")
            return inactive
        }
        metrics.recordVerification("introspect_active")
        return JSONResponse.make(
            .object([
                "active": .bool(true), "iss": verified.claims["iss"] ?? .null, "sub": .string(verified.subject),
                "aud": verified.claims["aud"] ?? .null, "exp": verified.claims["exp"] ?? .null, "iat": verified.claims["iat"] ?? .null,
                "jti": .string(verified.jti), "scope": .string(verified.scope), "client_id": .string(verified.clientId),
                "token_type": .string("Bearer"), "tenant_id": .string(verified.tenantId), "tenant_domain": .string(verified.tenantDomain),
                "roles": .array(verified.roles.map(JSONValue.string)),
            ].merging(verified.subtenantId.map { ["subtenant_id": JSONValue.string($0)] } ?? [:]) { old, _ in old }), headers: [.cacheControl: "no-store"])
    }

    /// RFC 7009: always 200 for a token the caller may revoke or cannot identify; the client the token was
    /// issued to, admins, and `token:introspect` callers of its tenant may revoke it.
    func revoke(_ request: Request, _ context: BrokerRequestContext) async throws -> Response {
        let form = try await FormBody.parse(request)
        let caller = try await authentication.client(request, form: form)
        guard let token = form["token"], !token.isEmpty else { throw OAuthFailure.invalidRequest("token is required") }
        let ok = Response(status: .ok, headers: [.cacheControl: "no-store"])
        // Revoking needs a genuine token of ours; an invalid one has nothing to revoke (RFC 7009 §2.2).
        guard let jwt = try? JWS.verify(token, key: { verifier.keyRing.current.key(forKid: $0) }),
            let jti = jwt.claims["jti"]?.stringValue, let exp = jwt.claims["exp"]?.numberValue
        else { return ok }
        let tenantId = jwt.claims["tenant_id"]?.stringValue
        let clientId = jwt.claims["client_id"]?.stringValue
        guard AccessPolicy.mayRevoke(caller, tokenTenant: tenantId, tokenSubtenant: jwt.claims["subtenant_id"]?.stringValue, tokenClient: clientId) else {
            throw OAuthFailure.revocationNotAllowed
        }
        if exp + verifier.leeway > service.clock().timeIntervalSince1970 {
            try await service.revoke(jti: jti, tenantId: tenantId, expiresAt: exp + verifier.leeway, actor: .init(name: caller.subject, requestId: context.requestId))
        }
        return ok
    }
}
