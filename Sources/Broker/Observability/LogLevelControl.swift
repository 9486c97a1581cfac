import Logging
import Synchronization

/// A log level shared by reference, so every copy of a handler follows a reload.
public final class LogLevelControl: Sendable {
    private let raw: Atomic<Int>
    static let levels = Logger.Level.allCases

    public init(_ level: Logger.Level) { raw = Atomic(Self.levels.firstIndex(of: level) ?? 2) }
    public var level: Logger.Level { Self.levels[raw.load(ordering: .relaxed)] }
    public func set(_ level: Logger.Level) { raw.store(Self.levels.firstIndex(of: level) ?? 2, ordering: .relaxed) }
}
