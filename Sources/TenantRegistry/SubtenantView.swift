/// What the hot path needs of a subtenant: whether it is deleted, and its feature overrides. Immutable,
/// shared by reference from its tenant's `TenantView`.
public final class SubtenantView: Sendable {
    public let subtenantId: String
    public let isDeleted: Bool
    public let features: [String: Bool]

    public init(_ subtenant: Subtenant) {
        subtenantId = subtenant.subtenantId
        isDeleted = subtenant.storedStatus == .deleted
        features = subtenant.features
    }
}
