/// Every rule a request broke, reported together.
public struct ValidationFailure: Error, Sendable, Equatable {
    /// What kind of rule was broken; the HTTP layer maps each to its problem code.
    public enum Kind: Sendable, Equatable {
        /// A value is missing, malformed or out of range (`validation_failed`).
        case invalid
        /// A PATCH touched a field that cannot be changed (`field_not_updatable`).
        case notUpdatable
    }

    public var errors: [FieldError]
    public var kind: Kind

    public init(_ errors: [FieldError], kind: Kind = .invalid) {
        self.errors = errors
        self.kind = kind
    }
}
