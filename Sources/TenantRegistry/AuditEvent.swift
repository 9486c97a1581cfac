import Foundation

/// One append-only audit record, written in the same transaction as the change it records.
public struct AuditEvent: Sendable, Equatable {
    public var at: Date
    public var actor: String
    public var action: String
    public var tenantId: String?
    public var outcome: String
    public var requestId: String?

    public init(at: Date, actor: String, action: String, tenantId: String?, outcome: String = "success", requestId: String?) {
        self.at = at
        self.actor = actor
        self.action = action
        self.tenantId = tenantId
        self.outcome = outcome
        self.requestId = requestId
    }
}

struct AuditRow: Codable, Sendable {
    var at: Int64
    var actor: String
    var action: String
    var tenantId: String?
    var outcome: String
    var requestId: String?

    enum CodingKeys: String, CodingKey {
        case at, actor, action, tenantId = "tenant_id", outcome, requestId = "request_id"
    }

    var event: AuditEvent {
        AuditEvent(
            at: Date(timeIntervalSince1970: Double(at) / 1000), actor: actor, action: action, tenantId: tenantId, outcome: outcome,
            requestId: requestId)
    }
}
