import Foundation

/// One row of the `api_keys` table.
struct APIKeyRow: Codable, Sendable {
    var id: String
    var name: String
    var secretHash: String
    var scopes: String
    var tenants: String
    var createdAt: Int64
    var revokedAt: Int64?

    enum CodingKeys: String, CodingKey {
        case id, name, secretHash = "secret_hash", scopes, tenants, createdAt = "created_at", revokedAt = "revoked_at"
    }

    var record: APIKeyRecord {
        APIKeyRecord(
            id: id, name: name, secretHash: secretHash, scopes: scopes.split(separator: " ").map(String.init),
            tenants: tenants.split(separator: " ").map(String.init), createdAt: Date(timeIntervalSince1970: Double(createdAt) / 1000),
            revokedAt: revokedAt.map { Date(timeIntervalSince1970: Double($0) / 1000) })
    }
}
