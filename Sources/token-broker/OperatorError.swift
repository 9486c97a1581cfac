/// A failure already explained to the operator; exits with `code` and no extra output.
struct OperatorError: Error, CustomStringConvertible {
    let description: String
}
