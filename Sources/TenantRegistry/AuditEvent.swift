import Foundation

/// One append-only audit record, written in the same transaction as the change it records.
public struct AuditEvent: Sendable, Equatable {
    public var at: Date
    public var actor: String
    public var action: String
    public var tenantId: String?
    public var outcome: String
    public var requestId: String?
    /// What the action counted (a purge: what it removed), by name; nil for most actions.
    public var counts: [String: Int]?

    public init(
        at: Date, actor: String, action: String, tenantId: String?, outcome: String = "success", requestId: String?, counts: [String: Int]? = nil
    ) {
        self.counts = counts
        self.at = at
        self.actor = actor
        self.action = action
        self.tenantId = tenantId
        self.outcome = outcome
        self.requestId = requestId
    }
}
