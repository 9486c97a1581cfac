/// One rule a request broke, named by its JSON path (`twoFAConfig.otpExpiry`).
public struct FieldError: Error, Sendable, Equatable, CustomStringConvertible {
    public var field: String
    public var message: String

    public init(_ field: String, _ message: String) {
        self.field = field
        self.message = message
    }

    public var description: String { "\(field): \(message)" }
}

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
