import Foundation

/// A temporary directory removed when the value goes away.
public final class ScratchDirectory: Sendable {
    public let path: String

    public init(_ prefix: String = "broker-test") {
        path = NSTemporaryDirectory() + prefix + "-" + UUID().uuidString
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}
