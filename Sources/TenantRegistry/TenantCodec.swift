import Foundation
import JOSE

/// Converts tenants to and from JSON: the public document (secrets redacted) and the stored document.
public enum TenantCodec {
    /// The tenant document a GET returns: the create body plus status and timestamps, no `clientSecret`.
    public static func document(_ tenant: Tenant, now: Date, includeLogo: Bool = true) -> JSONValue {
        var members = stored(tenant)
        if includeLogo, let logo = tenant.logo {
            members["logo"] = .object(["contentType": .string(logo.contentType), "data": .string(Data(logo.data).base64EncodedString())])
        }
        members["status"] = .string(tenant.status(at: now).rawValue)
        members["createdAt"] = .string(RFC3339.format(tenant.createdAt))
        members["updatedAt"] = .string(RFC3339.format(tenant.updatedAt))
        members["deletedAt"] = tenant.deletedAt.map { .string(RFC3339.format($0)) } ?? .null
        return .object(members)
    }

    /// The JSON kept in the store's `document` column: everything but secrets, logo, status and times.
    static func stored(_ tenant: Tenant) -> [String: JSONValue] {
        var keycloak: [String: JSONValue] = ["realm": .string(tenant.keycloak.realm), "clientId": .string(tenant.keycloak.clientId)]
        if let issuer = tenant.keycloak.issuer { keycloak["issuer"] = .string(issuer) }
        if let url = tenant.keycloak.otpManagerURL { keycloak["Otp_Manager_Url"] = .string(url) }
        let twoFA = tenant.twoFA
        var members: [String: JSONValue] = [
            "tenantId": .string(tenant.tenantId), "domain": .string(tenant.domain), "keycloak": .object(keycloak),
            "campaigns": .object(tenant.campaigns), "dialer": .object(tenant.dialer),
            "twoFAConfig": .object([
                "isEnabled": .bool(twoFA.isEnabled), "channelType": twoFA.channelType.map { .string($0.rawValue) } ?? .null,
                "serviceIdentifier": twoFA.serviceIdentifier.map(JSONValue.string) ?? .null,
                "otpExpiry": twoFA.otpExpiry.map { .int(Int64($0)) } ?? .null,
                "retryLimit": twoFA.retryLimit.map { .int(Int64($0)) } ?? .null,
            ]),
            "subscription": .object(["expiresAt": tenant.subscriptionExpiresAt.map { .string(RFC3339.format($0)) } ?? .null]),
        ]
        if let media = tenant.mediaServer { members["mediaServer"] = .object(media) }
        members["features"] = .object(tenant.features.mapValues(JSONValue.bool))
        members["limits"] = tenant.limits.json
        return members
    }

    /// Rebuilds a tenant from the store's columns. The document was written by `stored`, so it is trusted
    /// to have that shape; a row that does not is reported, not guessed at.
    static func decode(row: StoredTenantRow) throws -> Tenant {
        let document = try JSONParser(maxBytes: 4 << 20, maxDepth: 64).parseObject(Array(row.document.utf8))
        let keycloak = document["keycloak"]?.objectValue ?? [:]
        let twoFA = document["twoFAConfig"]?.objectValue ?? [:]
        guard let realm = keycloak["realm"]?.stringValue, let clientId = keycloak["clientId"]?.stringValue else {
            throw StoreError.corrupt("tenant \(row.tenantId): keycloak settings missing")
        }
        let enabled = twoFA["isEnabled"] == .bool(true)
        var logo: Logo?
        if let type = row.logoType, let data = row.logoData, let bytes = Data(base64Encoded: data) {
            logo = Logo(contentType: type, data: Array(bytes))
        }
        var features = [String: Bool]()
        for (name, value) in document["features"]?.objectValue ?? [:] { if case .bool(let on) = value { features[name] = on } }
        var tenant = Tenant(
            tenantId: row.tenantId, domain: row.domain,
            keycloak: KeycloakSettings(
                realm: realm, clientId: clientId, clientSecret: row.clientSecret, issuer: keycloak["issuer"]?.stringValue,
                otpManagerURL: keycloak["Otp_Manager_Url"]?.stringValue),
            campaigns: document["campaigns"]?.objectValue ?? [:], dialer: document["dialer"]?.objectValue ?? [:],
            mediaServer: document["mediaServer"]?.objectValue,
            twoFA: enabled
                ? TwoFAConfig(
                    isEnabled: true, channelType: twoFA["channelType"]?.stringValue.flatMap(TwoFAConfig.Channel.init(rawValue:)),
                    serviceIdentifier: twoFA["serviceIdentifier"]?.stringValue,
                    otpExpiry: twoFA["otpExpiry"]?.numberValue.map { Int($0) }, retryLimit: twoFA["retryLimit"]?.numberValue.map { Int($0) })
                : .disabled,
            logo: logo, subscriptionExpiresAt: row.expiresAt.map { Date(timeIntervalSince1970: Double($0) / 1000) },
            storedStatus: StoredStatus(rawValue: row.status) ?? .suspended,
            createdAt: Date(timeIntervalSince1970: Double(row.createdAt) / 1000),
            updatedAt: Date(timeIntervalSince1970: Double(row.updatedAt) / 1000),
            deletedAt: row.deletedAt.map { Date(timeIntervalSince1970: Double($0) / 1000) }, version: Int(row.version))
        tenant.features = features
        tenant.limits = TenantLimits.stored(document["limits"])
        return tenant
    }
}
