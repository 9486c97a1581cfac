import JOSE
import TenantRegistry

/// The rules of OTP challenges that hold whatever the tenant or the OTP Manager says: challenge ids, codes,
/// purposes, recipients, and how a recipient is shown.
public enum OTPRules {
    /// The purpose of a challenge that a tenant login started; components may not use it.
    public static let loginPurpose = "login"

    /// 128 random bits, base64url: 22 characters.
    public static func newChallengeId() -> String { Base64URL.encode(Crypto.randomBytes(16)) }

    public static func isChallengeId(_ text: String) -> Bool {
        (16...64).contains(text.utf8.count) && text.utf8.allSatisfy { $0.isBase64URL }
    }

    public static func isOTP(_ text: String) -> Bool {
        (1...32).contains(text.utf8.count) && text.utf8.allSatisfy { $0.isASCIIAlphanumeric }
    }

    public static func isPurpose(_ text: String) -> Bool {
        (1...64).contains(text.utf8.count) && text.utf8.allSatisfy { $0.isASCIIAlphanumeric && !(65...90).contains($0) || $0 == 0x2D || $0 == 0x5F }
    }

    public static func isValidRecipient(_ text: String, _ channel: TwoFAConfig.Channel) -> Bool {
        switch channel {
        case .sms:
            var digits = Substring(text)
            if digits.hasPrefix("+") { digits = digits.dropFirst() }
            return (6...15).contains(digits.utf8.count) && digits.utf8.allSatisfy { (48...57).contains($0) }
        case .email:
            let parts = text.split(separator: "@", omittingEmptySubsequences: false)
            guard text.utf8.count <= 254, parts.count == 2, (1...64).contains(parts[0].utf8.count), parts[1].contains("."),
                text.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != 0x22 && $0 != 0x3C && $0 != 0x3E })
            else { return false }
            return TenantRules.isDomainName(String(parts[1]))
        }
    }

    /// `+1555***4567`, `j***@example.com`: enough for a user to recognise, not enough to use.
    public static func mask(_ recipient: String, _ channel: TwoFAConfig.Channel) -> String {
        switch channel {
        case .sms:
            let chars = Array(recipient)
            guard chars.count >= 9 else { return String(chars.prefix(2)) + "***" + String(chars.suffix(2)) }
            return String(chars.prefix(5)) + "***" + String(chars.suffix(4))
        case .email:
            guard let at = recipient.firstIndex(of: "@") else { return "***" }
            return String(recipient.prefix(1)) + "***" + String(recipient[at...])
        }
    }
}

extension UInt8 {
    var isASCIIAlphanumeric: Bool { (48...57).contains(self) || (65...90).contains(self) || (97...122).contains(self) }
    var isBase64URL: Bool { isASCIIAlphanumeric || self == 0x2D || self == 0x5F }
}
