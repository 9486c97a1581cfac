import Foundation

/// One row of the `audit_events` table.
struct AuditRow: Codable, Sendable {
    /// The row's number: the order events were written in.
    var id: Int64
    var at: Int64
    var actor: String
    var action: String
    var tenantId: String?
    var outcome: String
    var requestId: String?
    /// `AuditEvent.counts` as a JSON object, or NULL.
    var counts: String?

    enum CodingKeys: String, CodingKey {
        case id, at, actor, action, tenantId = "tenant_id", outcome, requestId = "request_id", counts
    }

    static let columns = "id, at, actor, action, tenant_id, outcome, request_id, counts"

    /// `counts` as the column stores it: a JSON object of integers, keys sorted.
    static func encode(_ counts: [String: Int]?) -> String? {
        guard let counts, let data = try? JSONEncoder.sortedKeys.encode(counts) else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    var event: AuditEvent {
        AuditEvent(
            at: Date(timeIntervalSince1970: Double(at) / 1000), actor: actor, action: action, tenantId: tenantId, outcome: outcome,
            requestId: requestId, counts: counts.flatMap { try? JSONDecoder().decode([String: Int].self, from: Data($0.utf8)) })
    }
}

extension JSONEncoder {
    fileprivate static var sortedKeys: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return encoder
    }
}
