import Foundation
import JOSE

/// One row of the `tenants` table.
struct StoredTenantRow: Codable, Sendable {
    var tenantId: String
    var domain: String
    var document: String
    var clientSecret: String?
    var logoType: String?
    var logoData: String?
    var status: String
    var expiresAt: Int64?
    var createdAt: Int64
    var updatedAt: Int64
    var deletedAt: Int64?
    var version: Int64

    enum CodingKeys: String, CodingKey {
        case tenantId = "tenant_id", domain, document, clientSecret = "client_secret", logoType = "logo_type", logoData = "logo_data"
        case status, expiresAt = "expires_at", createdAt = "created_at", updatedAt = "updated_at", deletedAt = "deleted_at", version
    }

    init(_ tenant: Tenant) {
        tenantId = tenant.tenantId
        domain = tenant.domain
        document = JSONValue.object(TenantCodec.stored(tenant)).serializedString()
        clientSecret = tenant.keycloak.clientSecret
        logoType = tenant.logo?.contentType
        logoData = tenant.logo.map { Data($0.data).base64EncodedString() }
        status = tenant.storedStatus.rawValue
        expiresAt = tenant.subscriptionExpiresAt.map(Milliseconds.from)
        createdAt = Milliseconds.from(tenant.createdAt)
        updatedAt = Milliseconds.from(tenant.updatedAt)
        deletedAt = tenant.deletedAt.map(Milliseconds.from)
        version = Int64(tenant.version)
    }
}
