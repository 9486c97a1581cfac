import JOSE

/// A tenant's own rate limits (`limits` on the tenant document). Each nil field means the operator's default
/// (`--tenant-mint-rate`, `--tenant-otp-rate`, `--tenant-login-rate`); only system admins set them.
public struct TenantLimits: Sendable, Equatable {
    /// Tokens minted per second, per instance (REST mint, client_credentials and token exchange together).
    public var mintPerSecond: Int?
    /// OTP sends per minute, counted across every instance sharing the store.
    public var otpPerMinute: Int?
    /// Tenant-realm login attempts per minute, counted across every instance sharing the store.
    public var loginPerMinute: Int?

    public init(mintPerSecond: Int? = nil, otpPerMinute: Int? = nil, loginPerMinute: Int? = nil) {
        self.mintPerSecond = mintPerSecond
        self.otpPerMinute = otpPerMinute
        self.loginPerMinute = loginPerMinute
    }

    /// The largest value each field accepts: high enough for any real tenant, low enough that the per-request
    /// arithmetic cannot overflow.
    public static let maxMintPerSecond = 1_000_000
    public static let maxPerMinute = 1_000_000
    static let fields = ["mintPerSecond", "otpPerMinute", "loginPerMinute"]

    /// The document form: every field, null where the operator default applies.
    public var json: JSONValue {
        .object([
            "mintPerSecond": mintPerSecond.map { .int(Int64($0)) } ?? .null,
            "otpPerMinute": otpPerMinute.map { .int(Int64($0)) } ?? .null,
            "loginPerMinute": loginPerMinute.map { .int(Int64($0)) } ?? .null,
        ])
    }

    /// Reads the stored form (written by `json`; anything else is ignored, not guessed at).
    static func stored(_ value: JSONValue?) -> TenantLimits {
        guard case .object(let members)? = value else { return TenantLimits() }
        func number(_ name: String) -> Int? {
            if case .int(let value)? = members[name], value > 0, value <= Int64(maxPerMinute) { return Int(value) }
            return nil
        }
        return TenantLimits(mintPerSecond: number("mintPerSecond"), otpPerMinute: number("otpPerMinute"), loginPerMinute: number("loginPerMinute"))
    }

    /// Parses `limits` of a create body (all fields optional) or applies a PATCH's `limits` to `current`: each
    /// field present is set (null: back to the operator default), absent fields keep their value; `limits: null`
    /// resets all three. Every bad field is reported.
    public static func parse(_ value: JSONValue?, onto current: TenantLimits, errors: inout [FieldError]) -> TenantLimits {
        switch value {
        case nil: return current
        case .null?: return TenantLimits()
        case .object(let members)?:
            var limits = current
            for name in members.keys.sorted() where !fields.contains(name) {
                errors.append(FieldError("limits.\(String(name.prefix(64)))", "unknown field; known: \(fields.joined(separator: ", "))"))
            }
            func read(_ name: String, max: Int) -> Int?? {
                switch members[name] {
                case nil: return .none
                case .null?: return .some(nil)
                case .int(let number)? where number >= 1 && number <= Int64(max): return .some(Int(number))
                default:
                    errors.append(FieldError("limits.\(name)", "must be a whole number from 1 to \(max), or null for the operator default"))
                    return .none
                }
            }
            if let mint = read("mintPerSecond", max: maxMintPerSecond) { limits.mintPerSecond = mint }
            if let otp = read("otpPerMinute", max: maxPerMinute) { limits.otpPerMinute = otp }
            if let login = read("loginPerMinute", max: maxPerMinute) { limits.loginPerMinute = login }
            return limits
        default:
            errors.append(FieldError("limits", "must be an object with mintPerSecond, otpPerMinute and loginPerMinute"))
            return current
        }
    }
}
