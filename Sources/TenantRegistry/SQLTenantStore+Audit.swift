import Foundation
import SQLKit

/// The append-only audit log.
extension SQLTenantStore {
    static func insert(_ event: AuditEvent, into db: any SQLDatabase) async throws {
        try await db.raw(
            """
            INSERT INTO audit_events (at, actor, action, tenant_id, outcome, request_id, counts) VALUES (\(bind: Milliseconds.from(event.at)),
            \(bind: event.actor), \(bind: event.action), \(bind: event.tenantId), \(bind: event.outcome), \(bind: event.requestId),
            \(bind: AuditRow.encode(event.counts)))
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
                var query = SQLQueryString("SELECT \(unsafeRaw: AuditRow.columns) FROM audit_events WHERE 1 = 1")
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

extension SQLTenantStore {
    /// One page of `tenantId`'s audit events in the order they were written, after the event numbered `afterId`
    /// (0: from the first), with their numbers: the export reads a long trail page by page, never all at once.
    public func auditPage(tenantId: String, afterId: Int64, limit: Int) async throws(StoreError) -> [(id: Int64, event: AuditEvent)] {
        do {
            let rows = try await backend.read { db in
                try await db.raw(
                    """
                    SELECT \(unsafeRaw: AuditRow.columns) FROM audit_events
                    WHERE tenant_id = \(bind: tenantId) AND id > \(bind: afterId) ORDER BY id LIMIT \(unsafeRaw: String(max(1, limit)))
                    """
                ).all(decoding: AuditRow.self)
            }
            return rows.map { ($0.id, $0.event) }
        } catch {
            throw backend.translate(error)
        }
    }
}
