import Foundation
import Logging

/// One line per event on standard error, for people reading a terminal or `journalctl`:
/// `2026-12-06T19:09:25+0000 info token-broker: key=value key="a value" [Broker] message`.
///
/// Unlike swift-log's `StreamLogHandler`, a value is written bare only when it is made of characters that cannot
/// end it (letters, digits, `.-_:/@+,*`); anything else is quoted, with `"`, `\` and control characters escaped. A
/// username `bob status=200 route=/healthz` from a failed login stays one value (`username="bob status=200 ..."`)
/// and cannot forge fields or lines. The message is escaped the same way (never quoted: it comes last).
public struct TextLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    let label: String

    public init(label: String) {
        self.label = label
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { _, line in line }
        var line = Self.format(
            at: Date(), level: event.level, label: label, metadata: merged, source: event.source, message: event.message.description)
        line.append("\n")
        let bytes = Array(line.utf8)
        bytes.withUnsafeBytes { _ = write(STDERR_FILENO, $0.baseAddress, $0.count) }
    }

    /// The line without its newline.
    public static func format(at date: Date, level: Logger.Level, label: String, metadata: Logger.Metadata, source: String, message: String) -> String {
        var line = timestamp(date) + " " + level.rawValue + " " + escaped(label) + ":"
        for key in metadata.keys.sorted() {
            line += " " + escaped(key) + "=" + value(metadata[key]!)
        }
        return line + " [" + escaped(source) + "] " + escaped(message)
    }

    /// A metadata value: bare when safe, else quoted and escaped.
    static func value(_ value: Logger.Metadata.Value) -> String {
        let text: String
        switch value {
        case .string(let string): text = string
        case .stringConvertible(let convertible): text = convertible.description
        case .array(let values): text = "[" + values.map { Self.value($0) }.joined(separator: ", ") + "]"
        case .dictionary(let dictionary):
            text = "[" + dictionary.keys.sorted().map { "\($0): \(Self.value(dictionary[$0]!))" }.joined(separator: ", ") + "]"
        }
        if !text.isEmpty, text.unicodeScalars.allSatisfy(isBare) { return text }
        return "\"" + escaped(text, quotes: true) + "\""
    }

    private static func isBare(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "a"..."z", "A"..."Z", "0"..."9", ".", "-", "_", ":", "/", "@", "+", ",", "*": return true
        default: return false
        }
    }

    /// `text` with control characters (newlines, escape sequences, Unicode line separators) and backslashes
    /// escaped, and `"` too when `quotes`.
    static func escaped(_ text: String, quotes: Bool = false) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\"" where quotes: out += "\\\""
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F || (0x80...0x9F).contains(scalar.value) || scalar == "\u{2028}" || scalar == "\u{2029}" {
                    out += "\\u{" + String(scalar.value, radix: 16) + "}"
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }

    private static func timestamp(_ date: Date) -> String {
        var time = time_t(date.timeIntervalSince1970)
        var parts = tm()
        localtime_r(&time, &parts)
        var buffer = [Int8](repeating: 0, count: 64)
        let count = strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%S%z", &parts)
        return String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
