/// A test's own failure (a set-up that did not work, a deadline that passed), with what happened.
public struct TestFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
