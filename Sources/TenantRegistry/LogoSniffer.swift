/// Checks that logo bytes really are the image type they claim to be, by content rather than by label.
enum LogoSniffer {
    /// nil when `bytes` fit `declaredType`, else the reason.
    static func problem(with bytes: [UInt8], declaredType: String) -> String? {
        switch declaredType {
        case "image/png":
            return bytes.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) ? nil : "is not a PNG image"
        case "image/jpeg":
            return bytes.starts(with: [0xFF, 0xD8, 0xFF]) ? nil : "is not a JPEG image"
        case "image/webp":
            return bytes.count >= 12 && bytes.starts(with: Array("RIFF".utf8)) && Array(bytes[8..<12]) == Array("WEBP".utf8)
                ? nil : "is not a WebP image"
        case "image/svg+xml":
            guard let text = String(validating: bytes, as: UTF8.self) else { return "is not UTF-8 SVG" }
            let lower = text.lowercased()
            var head = Substring(lower)
            if head.hasPrefix("\u{feff}") { head = head.dropFirst() }
            head = head.drop { $0.isWhitespace }
            guard head.hasPrefix("<svg") || head.hasPrefix("<?xml") || head.hasPrefix("<!--"), lower.contains("<svg") else {
                return "is not an SVG image"
            }
            // An SVG is a document, not just a picture: refuse the parts that run code or fetch content.
            for marker in ["<script", "javascript:", "<foreignobject", "<!entity", "<!doctype", "<iframe", "&#", "xlink:href", "href="]
            where lower.contains(marker) {
                return "SVG must not contain \(marker)"
            }
            // Event handlers after whitespace or '/' (`<svg/onload=...>`).
            if lower.range(of: #"[\s/"']on[a-z]+\s*="#, options: .regularExpression) != nil { return "SVG must not contain event handlers" }
            return nil
        default:
            return "unsupported type"
        }
    }
}
