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

    enum CodingKeys: String, CodingKey {
        case id, at, actor, action, tenantId = "tenant_id", outcome, requestId = "request_id"
    }

    var event: AuditEvent {
        AuditEvent(
            at: Date(timeIntervalSince1970: Double(at) / 1000), actor: actor, action: action, tenantId: tenantId, outcome: outcome,
            requestId: requestId)
    }
}
