import Foundation
import Testing

/// The two stores every registry test runs against.
public enum Backend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite, postgres
    public var testDescription: String { rawValue }

    /// The PostgreSQL server started by scripts/test (scripts/pg-test-server.sh).
    public static var postgresURL: String {
        get throws {
            guard let url = ProcessInfo.processInfo.environment["TOKEN_BROKER_TEST_POSTGRES_URL"] else {
                throw TestFailure("TOKEN_BROKER_TEST_POSTGRES_URL is not set: run the suite with scripts/test, which starts PostgreSQL")
            }
            return url
        }
    }

    /// A fresh, empty database URL for one test.
    public func freshDatabase(in scratch: ScratchDirectory) throws -> String {
        switch self {
        case .sqlite:
            return "sqlite:\(scratch.path)/registry.sqlite"
        case .postgres:
            let base = try Self.postgresURL
            let name = "t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
            try Self.psql(base, "CREATE DATABASE \(name)")
            var components = URLComponents(string: base)!
            components.path = "/" + name
            return components.string!
        }
    }

    /// Runs one SQL statement with psql against `url`.
    public static func psql(_ url: String, _ sql: String) throws {
        try runTool("/usr/bin/env", ["psql", url, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql])
    }
}
