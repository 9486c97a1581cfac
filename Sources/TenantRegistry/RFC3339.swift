import Foundation

/// RFC 3339 date-times as the contract's JSON bodies use them (UTC, seconds, `Z`).
public enum RFC3339 {
    /// Formats in UTC with whole seconds: `2026-11-23T10:00:00Z`.
    public static func format(_ date: Date) -> String {
        Date(timeIntervalSince1970: date.timeIntervalSince1970.rounded(.down)).formatted(.iso8601)
    }

    /// Parses with or without fractional seconds, any offset.
    public static func parse(_ text: String) -> Date? {
        guard text.utf8.count <= 40 else { return nil }
        if let date = try? Date.ISO8601FormatStyle().parse(text) { return date }
        if let date = try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text) { return date }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: text) ?? { formatter.formatOptions = [.withInternetDateTime]; return formatter.date(from: text) }()
    }
}
