import Foundation
import JOSE

/// One row of the `subtenants` table.
struct SubtenantRow: Codable, Sendable {
    var tenant_id: String
    var subtenant_id: String
    var display_name: String?
    var features: String
    var status: String
    var created_at: Int64
    var updated_at: Int64
    var deleted_at: Int64?
    var version: Int64

    init(_ subtenant: Subtenant) {
        tenant_id = subtenant.tenantId
        subtenant_id = subtenant.subtenantId
        display_name = subtenant.displayName
        features = JSONValue.object(subtenant.features.mapValues(JSONValue.bool)).serializedString()
        status = subtenant.storedStatus.rawValue
        created_at = Milliseconds.from(subtenant.createdAt)
        updated_at = Milliseconds.from(subtenant.updatedAt)
        deleted_at = subtenant.deletedAt.map(Milliseconds.from)
        version = Int64(subtenant.version)
    }

    /// The subtenant this row holds; `.corrupt` when its features are not the JSON object the store wrote.
    func subtenant() throws(StoreError) -> Subtenant {
        guard let object = try? JSONParser(maxBytes: 1 << 16, maxDepth: 4).parseObject(Array(features.utf8)) else {
            throw .corrupt("subtenant \(tenant_id)/\(subtenant_id): features")
        }
        var parsed = [String: Bool]()
        for (name, value) in object { if case .bool(let on) = value { parsed[name] = on } }
        func date(_ ms: Int64) -> Date { Date(timeIntervalSince1970: Double(ms) / 1000) }
        return Subtenant(
            tenantId: tenant_id, subtenantId: subtenant_id, displayName: display_name, features: parsed,
            storedStatus: status == StoredStatus.deleted.rawValue ? .deleted : .active, createdAt: date(created_at), updatedAt: date(updated_at),
            deletedAt: deleted_at.map(date), version: Int(version))
    }
}
