import Foundation
import JOSE

#if canImport(Glibc)
    import Glibc
#endif

/// The contract's tenant rules: parsing a create or PATCH body into a tenant, collecting every bad field.
public enum TenantRules {
    public static let maxLogoBytes = 512 * 1024
    public static let logoTypes = ["image/png", "image/jpeg", "image/svg+xml", "image/webp"]
    static let createFields: Set<String> = [
        "tenantId", "domain", "keycloak", "campaigns", "dialer", "mediaServer", "twoFAConfig", "logo", "subscription", "features",
        "limits",
    ]
    static let keycloakFields: Set<String> = ["realm", "clientId", "clientSecret", "issuer", "Otp_Manager_Url"]
    static let twoFAFields: Set<String> = ["isEnabled", "channelType", "serviceIdentifier", "otpExpiry", "retryLimit"]

    /// `tenant1`: 1–63 lowercase letters, digits and `-`, starting with a letter.
    public static func isValidTenantId(_ id: String) -> Bool {
        guard let first = id.utf8.first, (0x61...0x7A).contains(first), id.utf8.count <= 63 else { return false }
        return id.utf8.allSatisfy { (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x2D }
    }

    /// A DNS name of LDH labels, any case, one label or more (a base domain, an email address's domain).
    public static func isDomainName(_ name: String) -> Bool { isLDHName(name, minimumLabels: 1, uppercase: true) }

    /// A lowercase DNS name of LDH labels, two labels or more (a tenant's domain).
    public static func isValidDomain(_ name: String) -> Bool { isLDHName(name, minimumLabels: 2, uppercase: false) }

    /// Labels of ASCII letters, digits and `-` (not first or last), 1-63 bytes each, 253 bytes in all.
    private static func isLDHName(_ name: String, minimumLabels: Int, uppercase: Bool) -> Bool {
        let labels = name.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard labels.count >= minimumLabels, name.utf8.count <= 253 else { return false }
        return labels.allSatisfy { label in
            !label.isEmpty && label.count <= 63 && label.first != UInt8(ascii: "-") && label.last != UInt8(ascii: "-")
                && label.allSatisfy { (0x61...0x7A).contains($0) || (uppercase && (0x41...0x5A).contains($0)) || (0x30...0x39).contains($0) || $0 == 0x2D }
        }
    }

    /// Parses a create body. Throws every broken rule at once.
    public static func parseCreate(_ body: [String: JSONValue], baseDomain: String, now: Date) throws(ValidationFailure) -> Tenant {
        var errors = [FieldError]()
        for key in body.keys.sorted() where !createFields.contains(key) {
            errors.append(FieldError(key, "unknown or read-only field"))
        }
        var tenantId = ""
        switch body["tenantId"] {
        case .string(let id) where isValidTenantId(id): tenantId = id
        case .string: errors.append(FieldError("tenantId", "must be 1-63 lowercase letters, digits or '-', starting with a letter"))
        case nil: errors.append(FieldError("tenantId", "is required"))
        default: errors.append(FieldError("tenantId", "must be a string"))
        }
        var domain = tenantId.isEmpty ? "" : "\(tenantId).\(baseDomain)"
        switch body["domain"] {
        case nil, .null: break
        case .string(let value) where isValidDomain(value): domain = value
        default: errors.append(FieldError("domain", "must be a lowercase domain name"))
        }
        let keycloak = parseKeycloak(body["keycloak"], errors: &errors)
        let campaigns = optionalObject(body["campaigns"], "campaigns", errors: &errors) ?? [:]
        let dialer = optionalObject(body["dialer"], "dialer", errors: &errors) ?? [:]
        let mediaServer = parseMediaServer(body["mediaServer"], errors: &errors)
        var twoFA = TwoFAConfig.disabled
        if body["twoFAConfig"] == nil {
            errors.append(FieldError("twoFAConfig", "is required"))
        } else {
            twoFA = parseTwoFA(body["twoFAConfig"], otpManagerURL: keycloak?.otpManagerURL, errors: &errors)
        }
        let logo = parseLogo(body["logo"], errors: &errors)
        let expiresAt = parseSubscription(body["subscription"], errors: &errors)
        let features = SubtenantRules.parseFeatures(body["features"], errors: &errors)
        let limits = TenantLimits.parse(body["limits"], onto: TenantLimits(), errors: &errors)
        if !errors.isEmpty { throw ValidationFailure(errors) }
        var tenant = Tenant(
            tenantId: tenantId, domain: domain, keycloak: keycloak!, campaigns: campaigns, dialer: dialer, mediaServer: mediaServer,
            twoFA: twoFA, logo: logo, subscriptionExpiresAt: expiresAt, storedStatus: .active, createdAt: now, updatedAt: now,
            deletedAt: nil, version: 1)
        tenant.features = features
        tenant.limits = limits
        return tenant
    }

    /// Applies a PATCH body to `tenant`. Only `mediaServer`, `twoFAConfig`, `keycloak.Otp_Manager_Url`, `logo`,
    /// `features` and (for system admins) `subscription` and `limits` may change; anything else is `field_not_updatable`.
    public static func applyPatch(
        _ body: [String: JSONValue], to tenant: Tenant, systemAdmin: Bool, now: Date
    ) throws(ValidationFailure) -> Tenant {
        var notUpdatable = [FieldError]()
        var errors = [FieldError]()
        var updated = tenant
        for key in body.keys.sorted() {
            switch key {
            case "mediaServer", "twoFAConfig", "logo", "keycloak", "features": continue
            case "subscription" where systemAdmin, "limits" where systemAdmin: continue
            default: notUpdatable.append(FieldError(key, "cannot be changed"))
            }
        }
        if case .object(let members)? = body["keycloak"] {
            for key in members.keys.sorted() where key != "Otp_Manager_Url" {
                notUpdatable.append(FieldError("keycloak.\(key)", "cannot be changed"))
            }
        }
        if !notUpdatable.isEmpty { throw ValidationFailure(notUpdatable, kind: .notUpdatable) }

        if let value = body["keycloak"] {
            switch value {
            case .object(let members):
                switch members["Otp_Manager_Url"] {
                case nil: break
                case .null: updated.keycloak.otpManagerURL = nil
                case .string(let url) where isHTTPURL(url): updated.keycloak.otpManagerURL = url
                default: errors.append(FieldError("keycloak.Otp_Manager_Url", "must be an absolute http(s) URL"))
                }
            default: errors.append(FieldError("keycloak", "must be an object"))
            }
        }
        if let value = body["mediaServer"] {
            updated.mediaServer = value == .null ? nil : parseMediaServer(value, errors: &errors)
        }
        if body["twoFAConfig"] != nil {
            updated.twoFA = parseTwoFA(body["twoFAConfig"], otpManagerURL: updated.keycloak.otpManagerURL, errors: &errors)
        } else if updated.twoFA.isEnabled, updated.keycloak.otpManagerURL == nil {
            errors.append(FieldError("keycloak.Otp_Manager_Url", "is required while twoFAConfig.isEnabled is true"))
        }
        if body.keys.contains("limits") { updated.limits = TenantLimits.parse(body["limits"], onto: updated.limits, errors: &errors) }
        if body.keys.contains("features") { updated.features = SubtenantRules.parseFeatures(body["features"], errors: &errors) }
        if let value = body["logo"] {
            updated.logo = value == .null ? nil : parseLogo(value, errors: &errors)
        }
        if body["subscription"] != nil {
            updated.subscriptionExpiresAt = parseSubscription(body["subscription"], errors: &errors)
        }
        if !errors.isEmpty { throw ValidationFailure(errors) }
        updated.updatedAt = now
        return updated
    }

    static func parseKeycloak(_ value: JSONValue?, errors: inout [FieldError]) -> KeycloakSettings? {
        guard let value else {
            errors.append(FieldError("keycloak", "is required"))
            return nil
        }
        guard case .object(let members) = value else {
            errors.append(FieldError("keycloak", "must be an object"))
            return nil
        }
        for key in members.keys.sorted() where !keycloakFields.contains(key) {
            errors.append(FieldError("keycloak.\(key)", "unknown field"))
        }
        let realm = requiredString(members["realm"], "keycloak.realm", max: 255, errors: &errors) { value in
            value.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F && $0 != 0x2F && $0 != 0x3F && $0 != 0x23 && $0 != 0x25 }
        }
        let clientId = requiredString(members["clientId"], "keycloak.clientId", max: 255, errors: &errors) { value in
            value.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F }
        }
        var secret: String?
        switch members["clientSecret"] {
        case nil, .null: break
        case .string(let value) where !value.isEmpty && value.utf8.count <= 4096: secret = value
        default: errors.append(FieldError("keycloak.clientSecret", "must be a string of 1-4096 characters"))
        }
        let issuer = optionalURL(members["issuer"], "keycloak.issuer", errors: &errors)
        let otp = optionalURL(members["Otp_Manager_Url"], "keycloak.Otp_Manager_Url", errors: &errors)
        guard let realm, let clientId else { return nil }
        return KeycloakSettings(realm: realm, clientId: clientId, clientSecret: secret, issuer: issuer, otpManagerURL: otp)
    }

    static func parseTwoFA(_ value: JSONValue?, otpManagerURL: String?, errors: inout [FieldError]) -> TwoFAConfig {
        guard case .object(let members)? = value else {
            errors.append(FieldError("twoFAConfig", "must be an object"))
            return .disabled
        }
        for key in members.keys.sorted() where !twoFAFields.contains(key) {
            errors.append(FieldError("twoFAConfig.\(key)", "unknown field"))
        }
        guard case .bool(let enabled)? = members["isEnabled"] else {
            errors.append(FieldError("twoFAConfig.isEnabled", members["isEnabled"] == nil ? "is required" : "must be true or false"))
            return .disabled
        }
        // Disabled: the other four are stored as null whatever was sent.
        guard enabled else { return .disabled }
        var config = TwoFAConfig(isEnabled: true)
        switch members["channelType"] {
        case .string(let channel)?:
            if let parsed = TwoFAConfig.Channel(rawValue: channel) {
                config.channelType = parsed
            } else {
                errors.append(FieldError("twoFAConfig.channelType", "must be SMS or Email"))
            }
        case nil, .null?: errors.append(FieldError("twoFAConfig.channelType", "is required when 2FA is enabled"))
        default: errors.append(FieldError("twoFAConfig.channelType", "must be SMS or Email (exactly one channel)"))
        }
        config.serviceIdentifier = requiredString(members["serviceIdentifier"], "twoFAConfig.serviceIdentifier", max: 255, errors: &errors) {
            _ in true
        }
        config.otpExpiry = requiredInteger(members["otpExpiry"], "twoFAConfig.otpExpiry", 30...900, errors: &errors)
        config.retryLimit = requiredInteger(members["retryLimit"], "twoFAConfig.retryLimit", 1...10, errors: &errors)
        if otpManagerURL == nil {
            errors.append(FieldError("keycloak.Otp_Manager_Url", "is required when 2FA is enabled"))
        }
        return config
    }

    static func parseLogo(_ value: JSONValue?, errors: inout [FieldError]) -> Logo? {
        guard let value, value != .null else { return nil }
        guard case .object(let members) = value else {
            errors.append(FieldError("logo", "must be an object with contentType and data"))
            return nil
        }
        for key in members.keys.sorted() where key != "contentType" && key != "data" {
            errors.append(FieldError("logo.\(key)", "unknown field"))
        }
        var type: String?
        switch members["contentType"] {
        case .string(let declared)? where logoTypes.contains(declared): type = declared
        default: errors.append(FieldError("logo.contentType", "must be one of \(logoTypes.joined(separator: ", "))"))
        }
        guard case .string(let encoded)? = members["data"] else {
            errors.append(FieldError("logo.data", "is required (base64)"))
            return nil
        }
        guard encoded.utf8.count <= (maxLogoBytes / 3 + 1) * 4, let bytes = Data(base64Encoded: encoded) else {
            errors.append(FieldError("logo.data", encoded.utf8.count > (maxLogoBytes / 3 + 1) * 4 ? "is larger than 512 KiB" : "is not valid base64"))
            return nil
        }
        if bytes.count > maxLogoBytes {
            errors.append(FieldError("logo.data", "is larger than 512 KiB"))
            return nil
        }
        guard let type else { return nil }
        if let problem = LogoSniffer.problem(with: Array(bytes), declaredType: type) {
            errors.append(FieldError("logo.data", problem))
            return nil
        }
        return Logo(contentType: type, data: Array(bytes))
    }

    static func parseSubscription(_ value: JSONValue?, errors: inout [FieldError]) -> Date? {
        guard let value, value != .null else { return nil }
        guard case .object(let members) = value else {
            errors.append(FieldError("subscription", "must be an object"))
            return nil
        }
        for key in members.keys.sorted() where key != "expiresAt" {
            errors.append(FieldError("subscription.\(key)", "unknown field"))
        }
        switch members["expiresAt"] {
        case nil, .null?: return nil
        case .string(let text)?:
            if let date = RFC3339.parse(text) { return date }
            errors.append(FieldError("subscription.expiresAt", "must be an RFC 3339 date-time"))
        default: errors.append(FieldError("subscription.expiresAt", "must be an RFC 3339 date-time string"))
        }
        return nil
    }

    /// `mediaServer`: an object of `host` (a DNS name or an IP address) and `port` (1-65535), each optional, nothing
    /// else, as the OpenAPI document's `MediaServer` says; nil for absent or null.
    static func parseMediaServer(_ value: JSONValue?, errors: inout [FieldError]) -> [String: JSONValue]? {
        guard let members = optionalObject(value, "mediaServer", errors: &errors) else { return nil }
        for key in members.keys.sorted() where key != "host" && key != "port" {
            errors.append(FieldError("mediaServer.\(key.prefix(64))", "unknown field (mediaServer has host and port)"))
        }
        switch members["host"] {
        case nil: break
        case .string(let host)? where isDomainName(host) || isIPAddress(host): break
        default: errors.append(FieldError("mediaServer.host", "must be a host name or an IP address"))
        }
        switch members["port"] {
        case nil: break
        case .int(let port)? where (1...65535).contains(port): break
        default: errors.append(FieldError("mediaServer.port", "must be a whole number from 1 to 65535"))
        }
        return members
    }

    /// An IPv4 address in dotted decimal or an IPv6 address (no zone, no brackets).
    static func isIPAddress(_ text: String) -> Bool {
        // Only address characters reach inet_pton: a C string ends at a NUL, so "10.0.0.1\u{0}anything" would pass.
        guard (2...45).contains(text.utf8.count), text.utf8.allSatisfy({ $0 == 0x2E || $0 == 0x3A || (0x30...0x39).contains($0) || (0x41...0x46).contains($0) || (0x61...0x66).contains($0) })
        else { return false }
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, text, &v4) == 1 || inet_pton(AF_INET6, text, &v6) == 1
    }

    static func optionalObject(_ value: JSONValue?, _ field: String, errors: inout [FieldError]) -> [String: JSONValue]? {
        switch value {
        case nil, .null?: return nil
        case .object(let members)?: return members
        default:
            errors.append(FieldError(field, "must be an object"))
            return nil
        }
    }

    static func requiredString(
        _ value: JSONValue?, _ field: String, max: Int, errors: inout [FieldError], allowed: (String) -> Bool
    ) -> String? {
        switch value {
        case .string(let text)? where !text.isEmpty && text.utf8.count <= max && allowed(text): return text
        case .string?: errors.append(FieldError(field, "must be 1-\(max) permitted characters"))
        case nil, .null?: errors.append(FieldError(field, "is required"))
        default: errors.append(FieldError(field, "must be a string"))
        }
        return nil
    }

    static func requiredInteger(_ value: JSONValue?, _ field: String, _ range: ClosedRange<Int>, errors: inout [FieldError]) -> Int? {
        switch value {
        case .int(let number)? where range.contains(Int(number)): return Int(number)
        case .int?: errors.append(FieldError(field, "must be between \(range.lowerBound) and \(range.upperBound)"))
        case nil, .null?: errors.append(FieldError(field, "is required when 2FA is enabled"))
        default: errors.append(FieldError(field, "must be a whole number between \(range.lowerBound) and \(range.upperBound)"))
        }
        return nil
    }

    static func optionalURL(_ value: JSONValue?, _ field: String, errors: inout [FieldError]) -> String? {
        switch value {
        case nil, .null?: return nil
        case .string(let url)? where isHTTPURL(url): return url
        default:
            errors.append(FieldError(field, "must be an absolute http(s) URL"))
            return nil
        }
    }

    static func isHTTPURL(_ text: String) -> Bool {
        guard text.utf8.count <= 2048, let url = URL(string: text), let scheme = url.scheme?.lowercased(),
            scheme == "http" || scheme == "https", let host = url.host, !host.isEmpty, url.user == nil, url.password == nil
        else { return false }
        return true
    }
}
