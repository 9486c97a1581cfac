import Foundation
import SQLKit

/// The append-only audit log.
extension SQLTenantStore {
    static func insert(_ event: AuditEvent, into db: any SQLDatabase) async throws {
        try await db.raw(
            """
            INSERT INTO audit_events (at, actor, action, tenant_id, outcome, request_id) VALUES (\(bind: Milliseconds.from(event.at)),
            \(bind: event.actor), \(bind: event.action), \(bind: event.tenantId), \(bind: event.outcome), \(bind: event.requestId))
            """
        ).run()
    }

    /// Records an event that has no other write (a failed attempt, a login).
    public func append(_ event: AuditEvent) async throws(StoreError) {
        do {
            try await backend.transaction { db in try await Self.insert(event, into: db) }
        } catch {
            throw backend.translate(error)
        }
    }

    /// Audit events, oldest first.
    public func audit(tenantId: String?, since: Date?, limit: Int) async throws(StoreError) -> [AuditEvent] {
        do {
            let rows = try await backend.read { db in
                var query = SQLQueryString("SELECT at, actor, action, tenant_id, outcome, request_id FROM audit_events WHERE 1 = 1")
                if let tenantId {
                    query.appendLiteral(" AND tenant_id = ")
                    query.appendInterpolation(bind: tenantId)
                }
                if let since {
                    query.appendLiteral(" AND at >= ")
                    query.appendInterpolation(bind: Milliseconds.from(since))
                }
                query.appendInterpolation(unsafeRaw: " ORDER BY at, id LIMIT \(limit)")
                return try await db.raw(query).all(decoding: AuditRow.self)
            }
            return rows.map(\.event)
        } catch {
            throw backend.translate(error)
        }
    }
}
