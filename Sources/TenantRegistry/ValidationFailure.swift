/// Every rule a request broke, reported together.
public struct ValidationFailure: Error, Sendable, Equatable {
    public var errors: [FieldError]
    /// The problem code: `validation_failed`, or `field_not_updatable` when a PATCH touched a fixed field.
    public var code: String

    public init(_ errors: [FieldError], code: String = "validation_failed") {
        self.errors = errors
        self.code = code
    }
}
