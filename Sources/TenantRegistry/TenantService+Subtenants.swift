import Foundation
import JOSE

/// Subtenants: validation, storage, audit, and the in-memory directory kept current.
extension TenantService {
    /// Creates a subtenant of `tenantId` from a create body.
    public func createSubtenant(_ tenantId: String, body: [String: JSONValue], actor: Actor) async throws -> Subtenant {
        let now = clock()
        let subtenant = try SubtenantRules.parseCreate(body, tenantId: tenantId, now: now)
        let created = try await store.createSubtenant(
            subtenant,
            audit: AuditEvent(
                at: now, actor: actor.name, action: "subtenant.create:\(subtenant.subtenantId)", tenantId: tenantId, requestId: actor.requestId))
        subtenants.merge([created])
        return created
    }

    /// The tenant's subtenants from the store, deleted ones included.
    public func subtenants(of tenantId: String) async throws(StoreError) -> [Subtenant] {
        try await store.subtenants(of: tenantId)
    }

    /// One subtenant from the store, deleted or not; nil when there is none.
    public func subtenant(_ tenantId: String, _ subtenantId: String) async throws(StoreError) -> Subtenant? {
        try await store.subtenants(of: tenantId).first { $0.subtenantId == subtenantId }
    }

    /// Partial update of `displayName` and `features`.
    public func patchSubtenant(_ tenantId: String, _ subtenantId: String, body: [String: JSONValue], ifMatch: Int?, actor: Actor) async throws
        -> Subtenant
    {
        let now = clock()
        let updated = try await store.updateSubtenant(
            tenantId, subtenantId, ifMatch: ifMatch,
            audit: AuditEvent(at: now, actor: actor.name, action: "subtenant.update:\(subtenantId)", tenantId: tenantId, requestId: actor.requestId)
        ) { current in
            try SubtenantRules.applyPatch(body, to: current, now: now)
        }
        subtenants.merge([updated])
        return updated
    }

    /// Logical delete: its tokens stop verifying at once; API keys limited to it alone are revoked.
    public func deleteSubtenant(_ tenantId: String, _ subtenantId: String, ifMatch: Int?, actor: Actor) async throws {
        let now = clock()
        let deleted = try await store.updateSubtenant(
            tenantId, subtenantId, ifMatch: ifMatch,
            audit: AuditEvent(at: now, actor: actor.name, action: "subtenant.delete:\(subtenantId)", tenantId: tenantId, requestId: actor.requestId)
        ) { current in
            var changed = current
            changed.storedStatus = .deleted
            changed.updatedAt = now
            changed.deletedAt = now
            return changed
        }
        subtenants.merge([deleted])
        try? await reloadAPIKeys()
    }

    /// The effective features of the tenant, or of its subtenant `subtenantId` (its switches over the tenant's),
    /// from memory; nil when there is no such (active) tenant or subtenant.
    public func effectiveFeatures(_ tenantId: String, subtenant subtenantId: String?) -> [String: Bool]? {
        guard let view = directory.tenant(id: tenantId) else { return nil }
        guard let subtenantId else { return view.features }
        guard let subtenant = subtenants.subtenant(tenantId, subtenantId), !subtenant.isDeleted else { return nil }
        return view.features.merging(subtenant.features) { _, own in own }
    }

    /// Reloads one tenant's subtenants (after another instance's NOTIFY `sub:<tenantId>`).
    func reloadSubtenants(of tenantId: String) async {
        do {
            subtenants.merge(try await store.subtenants(of: tenantId))
        } catch {
            logger.warning("subtenant refresh failed", metadata: ["tenant": "\(tenantId)", "error": "\(error)"])
        }
    }
}
